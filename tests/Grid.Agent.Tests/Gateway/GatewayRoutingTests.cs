using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Grid.Agent.Gateway;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.Agent.Tests.Gateway;

/// <summary>The gateway's proxy against real backends: routing by Host, readiness, failover, 503/404, reconfiguring.</summary>
public sealed class GatewayRoutingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Requests_reach_both_backends_of_a_name_by_its_Host_and_an_unknown_name_is_404()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var gateway = await StartAsync();
        gateway.Server.Apply(new GatewayRoutes(1, [TestGateway.Route("shop", a, b)]));

        await Poll.UntilAsync(
            async () => (await gateway.Http.GetAsync(gateway.Url("shop"))).StatusCode == HttpStatusCode.OK && a.Requests > 0 && b.Requests > 0,
            Patience,
            "requests to shop.grid.test reaching both backends");

        using var unknown = await gateway.Http.GetAsync(gateway.Url("nobody"));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        Assert.Contains("nobody.grid.test", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_backend_gets_no_request_before_its_health_check_passed_and_no_healthy_backend_is_503()
    {
        await using var late = await TestBackend.StartAsync("late", ready: false);
        await using var ready = await TestBackend.StartAsync("ready");
        await using var gateway = await StartAsync();
        gateway.Server.Apply(new GatewayRoutes(1, [TestGateway.Route("shop", late), TestGateway.Route("blog", ready, late)]));

        // Right after the table arrived (no probe has run) and while the probe fails: no backend, 503.
        for (var i = 0; i < 20; i++)
        {
            using var response = await gateway.Http.GetAsync(gateway.Url("shop"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("1", response.Headers.GetValues("Retry-After").Single());
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(0, late.Requests);

        // Beside a healthy backend of the same name, the not yet healthy one gets nothing either.
        await Poll.UntilAsync(async () => (await gateway.Http.GetAsync(gateway.Url("blog"))).StatusCode == HttpStatusCode.OK, Patience, "blog served by its ready backend");
        for (var i = 0; i < 20; i++)
        {
            using var response = await gateway.Http.GetAsync(gateway.Url("blog"));
            Assert.Equal("ready", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(0, late.Requests);
        await Poll.UntilAsync(() => gateway.Server.Outgoing().Health is { } h && h.Any(d => d.DestinationId == "d-late" && !d.Healthy && d.Reason!.Contains("503", StringComparison.Ordinal)), Patience, "the failed check reported");
        Assert.Equal(0, late.Requests);

        late.Ready = true;
        await Poll.UntilAsync(async () => (await gateway.Http.GetAsync(gateway.Url("shop"))).StatusCode == HttpStatusCode.OK, Patience, "the backend serving once ready");
        var report = gateway.Server.Outgoing();
        Assert.Contains(report.Health!.Value, d => d is { Name: "shop", DestinationId: "d-late", Healthy: true, Reason: null });
        await Poll.UntilAsync(async () => await (await gateway.Http.GetAsync(gateway.Url("blog"))).Content.ReadAsStringAsync() == "late", Patience, "blog's second backend getting traffic once ready");
        report = gateway.Server.Outgoing();

        // Health goes out until delivered, then only when it changes.
        gateway.Server.Delivered(report, new HeartbeatResponse(NodeStatus.Up, false, []));
        Assert.Null(gateway.Server.Outgoing().Health);
    }

    [Fact]
    public async Task A_killed_backend_costs_no_request_of_a_steady_loop_and_rejoins_once_it_passes_again()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var gateway = await StartAsync();
        gateway.Server.Apply(new GatewayRoutes(1, [TestGateway.Route("shop", a, b)]));
        await Poll.UntilAsync(() => gateway.Server.Outgoing().Health is { } h && h.Count(d => d.Healthy) == 2, Patience, "both backends healthy");

        int sent = 0, failed = 0;
        using var stop = new CancellationTokenSource();
        var loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref sent);
                try
                {
                    using var response = await gateway.Http.GetAsync(gateway.Url("shop"));
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref failed);
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        });

        await Poll.UntilAsync(() => b.Requests > 5 && a.Requests > 5, Patience, "the loop reaching both backends");
        await b.StopAsync();
        var servedByA = a.Requests;
        await Poll.UntilAsync(() => a.Requests > servedByA + 50, Patience, "the loop going on on the other backend");
        await Poll.UntilAsync(() => gateway.Server.Outgoing().Health is { } h && h.Any(d => d.DestinationId == "d-b" && !d.Healthy), Patience, "the killed backend reported unhealthy");

        await b.StartAsync();
        var servedByB = b.Requests;
        await Poll.UntilAsync(() => b.Requests > servedByB + 5, Patience, "the backend rejoining once it passes again");
        await stop.CancelAsync();
        await loop;

        output.WriteLine($"{sent} requests, {failed} failed");
        Assert.True(failed * 100 <= sent, $"{failed} of {sent} requests failed");

        // A connection refused is retried on the other backend: not one request of the loop was lost.
        Assert.Equal(0, failed);
    }

    [Fact]
    public async Task A_route_removed_from_the_table_is_404_at_once_and_a_streamed_answer_in_flight_survives_reconfiguring()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var gateway = await StartAsync();
        gateway.Server.Apply(new GatewayRoutes(1, [TestGateway.Route("shop", a), TestGateway.Route("blog", a)]));
        await Poll.UntilAsync(async () => (await gateway.Http.GetAsync(gateway.Url("shop"))).StatusCode == HttpStatusCode.OK, Patience, "shop served");

        // A streamed answer: its first chunk arrives through the gateway before the backend wrote the rest.
        using var streamed = await gateway.Http.GetAsync(gateway.Url("shop", "/stream"), HttpCompletionOption.ResponseHeadersRead);
        await using var body = await streamed.Content.ReadAsStreamAsync();
        var buffer = new byte[64];
        var first = await body.ReadAsync(buffer);
        Assert.Equal("first;", System.Text.Encoding.ASCII.GetString(buffer, 0, first));

        // The table changes under it: blog goes, shop stays.
        gateway.Server.Apply(new GatewayRoutes(2, [TestGateway.Route("shop", a)]));
        await Poll.UntilAsync(async () => (await gateway.Http.GetAsync(gateway.Url("blog"))).StatusCode == HttpStatusCode.NotFound, TimeSpan.FromSeconds(1), "blog 404 within one apply", TimeSpan.FromMilliseconds(20));

        a.ReleaseStream();
        using var reader = new StreamReader(body);
        Assert.Equal("second", await reader.ReadToEndAsync());
        Assert.Equal(2, gateway.Server.RoutesVersion);
    }

    [Fact]
    public async Task A_WebSocket_passes_through_and_its_bytes_are_counted()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var gateway = await StartAsync();
        gateway.Server.Apply(new GatewayRoutes(1, [TestGateway.Route("shop", a)]));

        // Waiting without requests through the gateway: the WebSocket is the only traffic counted.
        await Poll.UntilAsync(() => gateway.Server.Outgoing().Health is { } h && h.Any(d => d.Healthy), Patience, "the backend healthy");

        using var socket = new ClientWebSocket();
        var url = new UriBuilder(gateway.Url("shop", "/ws")) { Scheme = "ws" }.Uri;
        await socket.ConnectAsync(url, gateway.Http, CancellationToken.None);
        var message = new byte[10_000];
        Random.Shared.NextBytes(message);
        await socket.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
        var echoed = new MemoryStream();
        var buffer = new byte[4096];
        while (echoed.Length < message.Length)
        {
            var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
            echoed.Write(buffer, 0, received.Count);
        }

        Assert.Equal(message, echoed.ToArray());
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        await Poll.UntilAsync(() => gateway.Server.MeteredRequests == 1, Patience, "the WebSocket counted once closed");
        var traffic = Assert.Single(gateway.Server.Outgoing().Traffic!.Traffic);
        Assert.InRange(traffic.BytesIn, message.Length, message.Length + 2048);
        Assert.InRange(traffic.BytesOut, message.Length, message.Length + 2048);
    }

    private Task<TestGateway> StartAsync() => TestGateway.StartAsync(new XunitLogger<GatewayServer>(output));
}
