using Grid.Agent.Runtimes;
using Grid.Agent.Runtimes.Networking;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.Agent.Tests.Networking;

/// <summary>Pod network namespaces with real <c>ip netns</c>, veth pairs and processes inside (root, as on CI).</summary>
public sealed class PodNetworksTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly NetworkSandbox _sandbox = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _sandbox.DisposeAsync().AsTask();

    [Fact]
    public async Task TwoUsersShareANamespaceAndTheLastReleaseDeletesItAndItsVeth()
    {
        var networks = New();
        var ns = networks.NamespaceName(1, 1);

        var first = await networks.AcquireAsync(1, 1, new WorkloadKey(10, 1), default);
        var second = await networks.AcquireAsync(1, 1, new WorkloadKey(11, 1), default);
        var other = await networks.AcquireAsync(2, 1, new WorkloadKey(12, 1), default);

        Assert.Equal(first, second);
        Assert.Equal($"/run/netns/{ns}", first.NamespacePath);
        Assert.NotEqual(first.Address, other.Address);
        Assert.Contains(ns, await NetworkSandbox.NamespacesAsync());
        Assert.Contains(await VethLink.ListAsync(default), l => l.Alias == ns);

        await networks.ReleaseAsync(1, 1, new WorkloadKey(10, 1));
        Assert.Contains(ns, await NetworkSandbox.NamespacesAsync());

        await networks.ReleaseAsync(1, 1, new WorkloadKey(11, 1));
        Assert.DoesNotContain(ns, await NetworkSandbox.NamespacesAsync());
        Assert.DoesNotContain(await VethLink.ListAsync(default), l => l.Alias == ns);
        Assert.Contains(networks.NamespaceName(2, 1), await NetworkSandbox.NamespacesAsync());
        await networks.ReleaseAsync(2, 1, new WorkloadKey(12, 1));
    }

    [Fact]
    public async Task ProcessesOfOnePodReachEachOtherOnLocalhostAndTheHostReachesThePodAddress()
    {
        var networks = New();
        var pod = await networks.AcquireAsync(3, 1, new WorkloadKey(13, 1), default);
        var ns = Path.GetFileName(pod.NamespacePath);
        var www = Directory.CreateDirectory(Path.Combine(_sandbox.Dir.Path, "www")).FullName;
        await File.WriteAllTextAsync(Path.Combine(www, "index.html"), "pod says hi");
        _sandbox.StartIn(ns, "/bin/busybox", "httpd", "-f", "-p", "8080", "-h", www);

        var fromInside = "";
        await Poll.UntilAsync(
            async () => (fromInside = (await HostCommand.RunAsync("ip", ["netns", "exec", ns, "/bin/busybox", "wget", "-qO-", "http://127.0.0.1:8080/index.html"])).Output) != "",
            TimeSpan.FromSeconds(30),
            "the server answers on the pod's localhost");
        Assert.Equal("pod says hi", fromInside);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal("pod says hi", await http.GetStringAsync(new Uri($"http://{pod.Address}:8080/index.html")));
        output.WriteLine($"{ns} at {pod.Address}");
    }

    [Fact]
    public async Task ANewInstanceKeepsTheNamespacesOfAdoptedUsersAndDeletesTheRest()
    {
        var first = New();
        var kept = await first.AcquireAsync(4, 2, new WorkloadKey(14, 2), default);
        await first.AcquireAsync(4, 2, new WorkloadKey(15, 2), default);
        await first.AcquireAsync(5, 2, new WorkloadKey(16, 2), default);

        var second = New();
        Assert.Equal([(4L, 2L)], await second.AdoptAsync([new WorkloadKey(14, 2)], default));

        Assert.Contains(second.NamespaceName(4, 2), await NetworkSandbox.NamespacesAsync());
        Assert.DoesNotContain(second.NamespaceName(5, 2), await NetworkSandbox.NamespacesAsync());
        Assert.Equal(kept, await second.AcquireAsync(4, 2, new WorkloadKey(14, 2), default));

        // Only the adopted user holds it now: its release is the last.
        await second.ReleaseAsync(4, 2, new WorkloadKey(14, 2));
        Assert.DoesNotContain(second.NamespaceName(4, 2), await NetworkSandbox.NamespacesAsync());
    }

    private PodNetworks New() => new(_sandbox.Options(), new XunitLogger<PodNetworks>(output));
}
