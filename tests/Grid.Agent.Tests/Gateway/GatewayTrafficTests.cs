using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grid.Agent.Gateway;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.Agent.Tests.Gateway;

/// <summary>The gateway's byte metering (exactly once across restarts), its heartbeat report, and TLS termination.</summary>
public sealed class GatewayTrafficTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    // What headers (request line, Host, Content-Length, …; status line, Date, Content-Type, …) may add per request.
    private const long HeadersPerRequest = 1024;

    [Fact]
    public async Task Bytes_per_name_match_what_was_sent_and_are_reported_once_even_across_a_restart()
    {
        using var dir = new TestWorkDir();
        await using var a = await TestBackend.StartAsync("a");
        var gateway = await TestGateway.StartAsync(new XunitLogger<GatewayServer>(output), dir.Path);
        try
        {
            gateway.Server.Apply(new GatewayRoutes(1, [TestGateway.Route("shop", a)]));
            await Poll.UntilAsync(() => gateway.Server.Outgoing().Health is { } h && h.Any(d => d.Healthy), Patience, "the backend healthy");

            await PostAsync(gateway, 100_000, 3);
            var report = gateway.Server.Outgoing();
            var heartbeat = report.AddTo(new Heartbeat(1, []));
            Assert.Contains(NodeFeatures.Gateway, heartbeat.Features!.Value);
            Assert.Equal($"127.0.0.1:{gateway.Server.HttpEndpoint!.Port}", heartbeat.GatewayAddress);
            var shop = Assert.Single(heartbeat.Traffic!.Value);
            Assert.Equal(1, heartbeat.TrafficSequence);
            AssertBytes(shop, "shop", 300_000, 3);

            // Not acknowledged (a lost answer): the same batch again, new traffic waits for the next one.
            await PostAsync(gateway, 1_000, 1);
            Assert.Equal(report.Traffic, gateway.Server.Outgoing().Traffic);
            gateway.Server.Delivered(report, new HeartbeatResponse(NodeStatus.Up, false, []) { TrafficAcknowledged = 1 });
            var second = gateway.Server.Outgoing().Traffic!;
            Assert.Equal(2, second.Sequence);
            AssertBytes(Assert.Single(second.Traffic), "shop", 1_000, 1);

            // The agent restarts before the controller acknowledged sequence 2: it is sent again, as 2, not lost.
            await gateway.DisposeAsync();
            gateway = await TestGateway.StartAsync(new XunitLogger<GatewayServer>(output), dir.Path);
            var again = gateway.Server.Outgoing();
            Assert.Equal(second.Sequence, again.Traffic!.Sequence);
            Assert.Equal(second.Traffic.ToArray(), again.Traffic.Traffic.ToArray());
            gateway.Server.Delivered(again, new HeartbeatResponse(NodeStatus.Up, false, []) { TrafficAcknowledged = 2 });
            Assert.Null(gateway.Server.Outgoing().Traffic);

            // Acknowledged counts are never reported again, also after another restart.
            await gateway.DisposeAsync();
            gateway = await TestGateway.StartAsync(new XunitLogger<GatewayServer>(output), dir.Path);
            Assert.Null(gateway.Server.Outgoing().Traffic);
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_name_is_served_over_HTTPS_with_the_operators_PEM_certificate()
    {
        using var dir = new TestWorkDir();
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN=*.{TestGateway.Domain}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName($"*.{TestGateway.Domain}");
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificatePath = Path.Combine(dir.Path, "gateway.crt");
        var keyPath = Path.Combine(dir.Path, "gateway.key");
        await File.WriteAllTextAsync(certificatePath, certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());

        await using var a = await TestBackend.StartAsync("a");
        await using var gateway = await TestGateway.StartAsync(new XunitLogger<GatewayServer>(output), Path.Combine(dir.Path, "agent"), certificatePath, keyPath, certificate.GetCertHashString());
        gateway.Server.Apply(new GatewayRoutes(1, [TestGateway.Route("shop", a)]));

        await Poll.UntilAsync(
            async () =>
            {
                using var response = await gateway.Https!.GetAsync(gateway.Url("shop", tls: true));
                return response.StatusCode == HttpStatusCode.OK && await response.Content.ReadAsStringAsync() == "a";
            },
            Patience,
            "shop served over HTTPS");
    }

    private static async Task PostAsync(TestGateway gateway, int bytes, int times)
    {
        var counted = gateway.Server.MeteredRequests;
        for (var i = 0; i < times; i++)
        {
            using var content = new ByteArrayContent(new byte[bytes]);
            using var response = await gateway.Http.PostAsync(gateway.Url("shop", "/echo"), content);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(bytes, (await response.Content.ReadAsByteArrayAsync()).Length);
        }

        // The gateway counts a request once its answer ended, which the client may see a moment earlier.
        await Poll.UntilAsync(() => gateway.Server.MeteredRequests == counted + times, Patience, "the requests counted");
    }

    private static void AssertBytes(NameTraffic traffic, string name, long body, int requests)
    {
        Assert.Equal(name, traffic.Name);
        Assert.InRange(traffic.BytesIn, body, body + (requests * HeadersPerRequest));
        Assert.InRange(traffic.BytesOut, body, body + (requests * HeadersPerRequest));
    }
}
