using System.Net;
using System.Net.Sockets;
using Grid.Agent.Runtimes;
using Grid.Agent.Runtimes.Networking;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.Agent.Tests.Networking;

/// <summary>Published ports through real forwarders to a real server inside a pod's network namespace.</summary>
public sealed class PortPublisherTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly NetworkSandbox _sandbox = new();
    private readonly List<PortPublisher> _publishers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var publisher in _publishers)
        {
            await publisher.DisposeAsync();
        }

        await _sandbox.DisposeAsync();
    }

    [Fact]
    public async Task AServerInThePodIsReachedThroughItsEndpointUntilUnpublished()
    {
        var (pod, key) = await ServePodAsync(6);
        var publisher = New();

        var endpoint = Assert.Single(await publisher.PublishAsync(key, [new ContainerPort("http", 8080)], pod.Address, default));

        Assert.Equal(("http", "127.0.0.1"), (endpoint.Name, endpoint.Address));
        Assert.InRange(endpoint.Port, 42000, 42999);
        Assert.Equal("served from the pod", await GetAsync(endpoint));

        await publisher.UnpublishAsync(key);

        using var client = new TcpClient();
        var refused = await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(IPAddress.Loopback, endpoint.Port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.Empty(publisher.EndpointsOf(key));
    }

    [Fact]
    public async Task ARestartedPublisherForwardsTheAdoptedPortsAgainAndFreesTheOthers()
    {
        var (pod, key) = await ServePodAsync(7);
        var gone = new WorkloadKey(99, 1);
        var first = New();
        var endpoint = Assert.Single(await first.PublishAsync(key, [new ContainerPort("http", 8080)], pod.Address, default));
        var goneEndpoint = Assert.Single(await first.PublishAsync(gone, [new ContainerPort("http", 8080)], pod.Address, default));
        Assert.NotEqual(endpoint.Port, goneEndpoint.Port);
        await first.DisposeAsync();

        var second = New();
        var adopted = await second.AdoptAsync([key], default);

        Assert.Equal(endpoint, Assert.Single(adopted[key]));
        Assert.False(adopted.ContainsKey(gone));
        Assert.Equal("served from the pod", await GetAsync(endpoint));
        Assert.Equal(endpoint, Assert.Single(await second.PublishAsync(key, [new ContainerPort("http", 8080)], pod.Address, default)));

        // The freed port is in quarantine: another instance gets another one.
        var next = Assert.Single(await second.PublishAsync(new WorkloadKey(98, 1), [new ContainerPort("http", 8080)], pod.Address, default));
        Assert.NotEqual(goneEndpoint.Port, next.Port);
    }

    [Fact]
    public void APortAnotherListenerHoldsIsNotTakenAgain()
    {
        // Two agents on one machine (or any other listener of the port) must not share it: the kernel would split
        // connections between two containers.
        using var first = PortForwarder.TryListen(IPAddress.Loopback, 0);
        Assert.NotNull(first);
        var port = ((IPEndPoint)first.LocalEndPoint!).Port;

        using var second = PortForwarder.TryListen(IPAddress.Loopback, port);

        Assert.Null(second);
    }

    private async Task<(PodNetwork Pod, WorkloadKey Key)> ServePodAsync(long reservationId)
    {
        var key = new WorkloadKey(reservationId * 10, 1);
        var networks = new PodNetworks(_sandbox.Options(), new XunitLogger<PodNetworks>(output));
        var pod = await networks.AcquireAsync(reservationId, 1, key, default);
        var www = Directory.CreateDirectory(Path.Combine(_sandbox.Dir.Path, $"www{reservationId}")).FullName;
        await File.WriteAllTextAsync(Path.Combine(www, "index.html"), "served from the pod");
        _sandbox.StartIn(Path.GetFileName(pod.NamespacePath), "/bin/busybox", "httpd", "-f", "-p", "8080", "-h", www);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Poll.UntilAsync(
            async () =>
            {
                try
                {
                    return await http.GetStringAsync(new Uri($"http://{pod.Address}:8080/index.html")) != "";
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(30),
            "the server in the pod answers");
        return (pod, key);
    }

    private static async Task<string> GetAsync(WorkloadEndpoint endpoint)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync(new Uri($"http://{endpoint.Address}:{endpoint.Port}/index.html"));
    }

    private PortPublisher New()
    {
        var publisher = new PortPublisher(_sandbox.Options(), new XunitLogger<PortPublisher>(output));
        _publishers.Add(publisher);
        return publisher;
    }
}
