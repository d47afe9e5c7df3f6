using System.Net.Http.Json;

namespace Grid.Bench.Scenarios;

/// <summary>Heartbeats per second ingested over real HTTP (Kestrel) from many concurrent node clients.</summary>
public static class HeartbeatScenario
{
    public static async Task RunAsync(BenchScale scale, double baseline, List<BenchRow> rows)
    {
        await using var host = await BenchHost.StartAsync();
        var key = await host.CreateTwinAsync();
        var farm = await host.CreateFarmAsync(key);
        var nodes = new (long NodeId, string NodeKey)[scale.HeartbeatNodes];
        var progress = new Progress($"heartbeat: {scale.HeartbeatNodes} nodes", scale.HeartbeatNodes);
        await Parallel.ForEachAsync(Enumerable.Range(0, nodes.Length), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
        {
            nodes[i] = await host.RegisterUpNodeAsync(key, farm, new Capacity(8, 8L << 30, 0, 0));
            progress.Add();
        });
        progress.Done();

        var body = JsonContent.Create(new { uptime = 100, workloads = Array.Empty<object>() });
        await body.LoadIntoBufferAsync();
        var payload = await body.ReadAsByteArrayAsync();
        var concurrency = scale.Concurrency;

        // A fifth of the run first, not counted: until the JIT has tiered up Kestrel's and HttpClient's paths, a
        // standalone run measured a third less than the same path warmed by the scenarios before it.
        await Measure.RunForAsync(scale.HeartbeatDuration / 5, concurrency, BeatAsync, new Progress("heartbeat: warm-up", 1));
        var outcome = await Measure.RunForAsync(scale.HeartbeatDuration, concurrency, BeatAsync,
            new Progress($"heartbeat: {scale.HeartbeatDuration.TotalSeconds:0} s of heartbeats", 1));
        if (outcome.Failures > 0)
        {
            throw new BenchFailedException($"{outcome.Failures} heartbeats failed");
        }

        var scenario = $"{nodes.Length} nodes, {concurrency} clients";
        rows.Add(new BenchRow("heartbeat", scenario, "heartbeats/s (HTTP)", outcome.PerSecond, "1/s", "≥ 20,000/s", outcome.PerSecond >= 20_000));
        rows.Add(new BenchRow("heartbeat", scenario, "ratio to baseline", outcome.PerSecond / baseline, "×"));
        rows.Add(new BenchRow("heartbeat", scenario, "p99 latency", outcome.P99Ms, "ms", "< 20 ms", outcome.P99Ms < 20));

        async Task<bool> BeatAsync(int worker, long n)
        {
            var node = nodes[(int)((worker + (n * concurrency)) % nodes.Length)];
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/nodes/{node.NodeId}/heartbeat")
            {
                Content = new ByteArrayContent(payload) { Headers = { ContentType = new("application/json") } },
            };
            request.Headers.Authorization = new("Bearer", node.NodeKey);
            using var response = await host.Client.SendAsync(request);
            return response.IsSuccessStatusCode;
        }
    }
}
