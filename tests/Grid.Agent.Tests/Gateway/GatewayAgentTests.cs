using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Grid.Client;
using Grid.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Grid.Agent.Tests.Gateway;

/// <summary>A real <see cref="NodeAgent"/> with <c>--gateway-listen</c> against a controller that hands out routes and acknowledges traffic.</summary>
public sealed class GatewayAgentTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_gateway_agent_reports_its_feature_and_address_serves_the_routes_of_its_heartbeat_answers_and_reports_traffic_once()
    {
        using var dir = new TestWorkDir();
        await using var backend = await TestBackend.StartAsync("a");
        var heartbeats = new ConcurrentQueue<Heartbeat>();
        var acknowledged = 0L;
        var routes = new GatewayRoutes(3, [TestGateway.Route("shop", backend)]);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var controllerPort = FreePort.Get();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, controllerPort));
        await using var controller = builder.Build();
        controller.MapPost("/api/v1/nodes/{nodeId:long}/heartbeat", async (HttpRequest request) =>
        {
            var heartbeat = (await JsonSerializer.DeserializeAsync<Heartbeat>(request.Body, GridJson.Options))!;
            heartbeats.Enqueue(heartbeat);

            // The controller applies a batch once: its sequence is acknowledged from then on.
            if (heartbeat.TrafficSequence > Interlocked.Read(ref acknowledged))
            {
                Interlocked.Exchange(ref acknowledged, heartbeat.TrafficSequence);
            }

            return Results.Json(new HeartbeatResponse(NodeStatus.Up, false, []) { Routes = routes, TrafficAcknowledged = Interlocked.Read(ref acknowledged) }, GridJson.Options);
        });
        await controller.StartAsync();

        var gatewayPort = FreePort.Get();
        await using var agent = new NodeAgent(
            new AgentOptions
            {
                ApiUrl = new Uri($"http://127.0.0.1:{controllerPort}"),
                NodeId = 7,
                NodeKey = "key",
                WorkDir = dir.Path,
                GatewayListen = $"0.0.0.0:{gatewayPort}",
                PublicAddress = "127.0.0.1",
                HeartbeatInterval = TimeSpan.FromMilliseconds(150),
                WatchDesired = false,
            },
            new XunitLogger<NodeAgent>(output));
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => agent.RunAsync(stop.Token));

        await Poll.UntilAsync(() => heartbeats.Any(h => h.Health is { } health && health.Any(d => d.Healthy)), Patience, "a heartbeat reporting the backend healthy");
        var first = heartbeats.First();
        Assert.Contains(NodeFeatures.Gateway, first.Features!.Value);
        Assert.Equal($"127.0.0.1:{gatewayPort}", first.GatewayAddress);

        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{gatewayPort}/");
        request.Headers.Host = $"shop.{TestGateway.Domain}";
        using var response = await client.SendAsync(request);
        Assert.Equal("a", await response.Content.ReadAsStringAsync());

        await Poll.UntilAsync(() => Interlocked.Read(ref acknowledged) >= 1, Patience, "the traffic reported and acknowledged");
        var reported = heartbeats.Where(h => h.TrafficSequence > 0).ToList();
        Assert.All(reported, h => Assert.Equal(1, h.TrafficSequence));
        var shop = Assert.Single(reported[0].Traffic!.Value);
        Assert.Equal("shop", shop.Name);
        Assert.InRange(shop.BytesOut, 1, 1024);

        // Once acknowledged, the batch is not sent again.
        var count = heartbeats.Count;
        await Poll.UntilAsync(() => heartbeats.Count > count + 3, Patience, "more heartbeats");
        Assert.Equal(reported.Count, heartbeats.Count(h => h.TrafficSequence > 0));

        await stop.CancelAsync();
        await run.WaitAsync(Patience);
    }
}
