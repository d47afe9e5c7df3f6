using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grid.EndToEnd.Tests;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.Console.Tests;

/// <summary>
/// One real host process exporting traces to an OTLP receiver of the test and scraped by a real Prometheus, through
/// a scripted scenario (farm, nodes heartbeating over HTTP, reservations, a refusal, one node lost and its work
/// moved): every PromQL expression of every shipped Grafana panel returns data, the key series have the values the
/// scenario implies, and the traces have the shape the dashboards' other half promises.
/// </summary>
public sealed class ObservabilityTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task EveryDashboardPanelHasDataAndOneCreateIsOneTraceAndEachMoveItsOwn()
    {
        using var otlp = new OtlpTraceReceiver();
        await using var grid = new GridProcesses();
        await grid.StartHostAsync("--Grid:Health:HeartbeatInterval=00:00:00.500", "--Grid:Health:HeartbeatTimeout=00:00:05",
            "--Grid:Health:ScanInterval=00:00:00.200", $"--OTEL_EXPORTER_OTLP_ENDPOINT={otlp.Endpoint}",
            "--OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "--OTEL_BSP_SCHEDULE_DELAY=200");
        await using var prometheus = await PrometheusServer.StartAsync(Dashboards.Job, grid.Api);

        var key = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "observer" }, 201))["apiKey"]!.GetValue<string>();
        var farmId = (await grid.SendAsync(HttpMethod.Post, "/api/v1/farms", key, new
        {
            name = "metrics-farm",
            publicIps = new[] { new { ip = "185.69.166.10/24", gateway = "185.69.166.1" }, new { ip = "185.69.166.11/24", gateway = "185.69.166.1" } },
        }, 201))["farmId"]!.GetValue<long>();
        using var heartbeats = new CancellationTokenSource();
        var beating = new Dictionary<long, CancellationTokenSource>();
        var loops = new List<Task>();
        for (var i = 0; i < 4; i++)
        {
            var node = await grid.SendAsync(HttpMethod.Post, "/api/v1/nodes", key, new
            {
                farmId,
                resources = new { cru = 8, mru = 16L << 30, sru = 100L << 30, hru = 1L << 40 },
                location = new { country = "Belgium", city = "Ghent" },
            }, 201);
            var nodeId = node["nodeId"]!.GetValue<long>();
            beating[nodeId] = CancellationTokenSource.CreateLinkedTokenSource(heartbeats.Token);
            loops.Add(HeartbeatAsync(grid, nodeId, node["nodeKey"]!.GetValue<string>(), beating[nodeId].Token));
        }

        try
        {
            await Poll.UntilAsync(async () => (await Overview(grid))["nodes"]!["up"]!.GetValue<int>() == 4, Wait, "four nodes up");
            var reservations = new Dictionary<long, long>();
            for (var i = 0; i < 7; i++)
            {
                var created = await grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", key, new
                {
                    resources = new { cru = 1, mru = 1L << 30, ipv4 = i == 0 ? 1 : 0 },
                    strategy = "spread",
                }, 201);
                reservations[created["reservationId"]!.GetValue<long>()] = created["nodeId"]!.GetValue<long>();
            }

            await grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", key, new { resources = new { cru = 1000, mru = 1L << 30 } }, 409);
            var first = reservations.Keys.Min();

            // The node holding the most reservations goes silent: it is declared down and its work moves.
            var victim = reservations.GroupBy(r => r.Value).MaxBy(g => g.Count())!.Key;
            var stranded = reservations.Where(r => r.Value == victim).Select(r => r.Key).ToList();
            await beating[victim].CancelAsync();
            await Poll.UntilAsync(async () =>
            {
                foreach (var id in stranded)
                {
                    var r = await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{id}", key, null, 200);
                    if (r["nodeId"]!.GetValue<long>() == victim || r["state"]!.GetValue<string>() != "active")
                    {
                        return false;
                    }
                }

                return true;
            }, Wait, $"the {stranded.Count} reservations of node {victim} are active elsewhere");

            // Prometheus has seen the end of the scenario (a timeout here names what it saw).
            try
            {
                await Poll.UntilAsync(async () => await prometheus.ScalarAsync("sum(grid_reservations_moved_total)") == stranded.Count
                    && await prometheus.ScalarAsync("max(grid_reservations_allocated{node_status=\"down\"})") == 0
                    && await prometheus.ScalarAsync("sum(grid_nodes_detection_delay_seconds_count)") == 1
                    // A rate needs two samples of a series; the move counters appear with the first move.
                    && await prometheus.ScalarAsync($"min(count_over_time(grid_reservations_moved_total[{Dashboards.RateInterval}]))") >= 2
                    && await prometheus.ScalarAsync($"min(count_over_time(grid_nodes_detection_delay_seconds_count[{Dashboards.RateInterval}]))") >= 2,
                    Wait, $"Prometheus scrapes the {stranded.Count} moves twice");
            }
            catch (TimeoutException timeout)
            {
                throw new TimeoutException($"{timeout.Message} Prometheus saw {await DescribeAsync(prometheus)}.", timeout);
            }

            Assert.True(Dashboards.Files.Count >= 5, "overview, failover, economy, cluster and ASP.NET Core dashboards ship");
            Assert.Null(await Dashboards.PanelsWithoutDataAsync(prometheus, uid => uid != Dashboards.Economy));

            // The values the scenario implies.
            Assert.Equal(3, await prometheus.ScalarAsync("sum(max by (farm) (grid_nodes{status=\"up\"}))"));
            Assert.Equal(1, await prometheus.ScalarAsync("sum(max by (farm) (grid_nodes{status=\"down\"}))"));
            Assert.Equal(reservations.Count, await prometheus.ScalarAsync("max(grid_reservations_allocated{node_status=\"up\"})"));
            Assert.Equal(stranded.Count, await prometheus.ScalarAsync("sum(grid_reservations_moved_total{reason=\"node-down\"})"));
            Assert.Equal(reservations.Count + stranded.Count, await prometheus.ScalarAsync("sum(grid_reservations_placed_total)"));
            Assert.Equal(1, await prometheus.ScalarAsync("sum(grid_reservations_failed_total{reason=\"insufficient cru\"})"));
            Assert.Equal(reservations.Count, await prometheus.ScalarAsync("max(grid_capacity_used{unit=\"cru\"})"));
            Assert.Equal(32, await prometheus.ScalarAsync("max(grid_capacity_total{unit=\"cru\"})"));
            Assert.Equal(0, await prometheus.ScalarAsync("sum(grid_evacuation_pending)"));
            Assert.Equal(1, await prometheus.ScalarAsync("sum(up{job=\"grid-silos\"})"));
            var delay = await prometheus.ScalarAsync("sum(grid_nodes_detection_delay_seconds_sum) / sum(grid_nodes_detection_delay_seconds_count)");
            Assert.InRange(delay!.Value, 5.0, 15.0);
            // Placements take milliseconds: with the exporter's default buckets (0, 5, 10 … s) this read ≈ 5 s.
            var p99 = await prometheus.ScalarAsync(
                "histogram_quantile(0.99, sum by (le) (grid_scheduling_duration_seconds_bucket{outcome=\"placed\"}))");
            Assert.InRange(p99!.Value, 0.0, 2.5);
            // Three live nodes beat about twice a second each: more than any single node could.
            Assert.True(await prometheus.ScalarAsync("sum(rate(grid_heartbeats_total[10s]))") > 2, "heartbeats/s of three live nodes");
            Assert.Equal(1, await prometheus.ScalarAsync("sum(http_server_request_duration_seconds_count{http_response_status_code=\"409\"})"));

            AssertCreateIsOneTrace(otlp, first, reservations[first]);
            await AssertEachMoveIsATraceAsync(otlp, victim, stranded);
        }
        finally
        {
            await heartbeats.CancelAsync();
            await Task.WhenAll(loops);
            foreach (var source in beating.Values)
            {
                source.Dispose();
            }
        }
    }

    private void AssertCreateIsOneTrace(OtlpTraceReceiver otlp, long reservationId, long nodeId)
    {
        var place = otlp.Spans.Single(s => s.Name == "grid.place" && s["grid.reservation.id"] == $"{reservationId}" && s["grid.reservation.epoch"] == "1");
        Assert.Equal($"{nodeId}", place["grid.node.id"]);
        var trace = otlp.Spans.Where(s => s.TraceId == place.TraceId).ToList();
        foreach (var span in trace)
        {
            output.WriteLine($"{span.Scope} {span.Name} {span.SpanId} <- {span.ParentSpanId} {string.Join(' ', span.Attributes.Select(a => $"{a.Key}={a.Value}"))}");
        }

        var http = Assert.Single(trace, s => s.Scope == "Microsoft.AspNetCore");
        Assert.Equal("POST", http["http.request.method"]);
        Assert.Equal("", http.ParentSpanId.Trim('0'));
        // The node grain's allocation and the reservation's durable write (by the silo's placer, which writes the
        // record without activating the reservation grain) are in the same trace.
        Assert.Contains(trace, s => s.Name.EndsWith("INodeGrain/TryAllocateManyAsync", StringComparison.Ordinal) && s["orleans.rpc.target_id"] == $"node/{nodeId}");
        Assert.Contains(trace, s => s.Name == "grid.reservation.write" && s["grid.reservation.id"] == $"{reservationId}");
        Assert.All(trace.Where(s => s != http), s => Assert.Contains(trace, p => p.SpanId == s.ParentSpanId));
    }

    private static async Task AssertEachMoveIsATraceAsync(OtlpTraceReceiver otlp, long victim, List<long> moved)
    {
        await Poll.UntilAsync(() => otlp.Spans.Count(s => s.Name == "grid.move" && s["grid.move.from_node.id"] == $"{victim}") == moved.Count,
            Wait, "one grid.move span per moved reservation");
        var moves = otlp.Spans.Where(s => s.Name == "grid.move" && s["grid.move.from_node.id"] == $"{victim}").ToList();
        Assert.Equal(moved.Order(), moves.Select(m => long.Parse(m["grid.reservation.id"]!)).Order());
        Assert.Equal(moved.Count, moves.Select(m => m.TraceId).Distinct().Count());
        Assert.All(moves, m => Assert.Equal("node-down", m["grid.move.cause"]));
        foreach (var move in moves)
        {
            await Poll.UntilAsync(() => otlp.Spans.Any(s => s.TraceId == move.TraceId && s.Name == "grid.place" && s["grid.reservation.epoch"] == "2"),
                Wait, $"the placement of move {move["grid.reservation.id"]} in its trace");
        }
    }

    internal static async Task HeartbeatAsync(GridProcesses grid, long nodeId, string nodeKey, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = grid.Api };
        http.DefaultRequestHeaders.Authorization = new("Bearer", nodeKey);
        var uptime = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var _ = await http.PostAsJsonAsync($"/api/v1/nodes/{nodeId}/heartbeat", new { uptime = uptime++, workloads = Array.Empty<object>() }, cancellationToken);
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (HttpRequestException)
            {
                // The host is stopping; the loop ends with the test.
            }
        }
    }

    private static async Task<string> DescribeAsync(PrometheusServer prometheus)
    {
        var parts = new List<string>();
        foreach (var query in new[] { "sum(grid_reservations_moved_total)", "max(grid_reservations_allocated{node_status=\"down\"})", "sum(grid_nodes_detection_delay_seconds_count)" })
        {
            parts.Add($"{query} = {await prometheus.ScalarAsync(query)}");
        }

        return string.Join(", ", parts);
    }

    private static Task<JsonNode> Overview(GridProcesses grid) => grid.SendAsync(HttpMethod.Get, "/api/v1/grid/overview", null, null, 200);
}
