using System.Diagnostics;
using Grid.Testing.Containers;

namespace Grid.Bench.Scenarios;

/// <summary>
/// Gateway names end to end with real processes: a controller, two worker agents running containers with runc, one
/// gateway agent (YARP) and a registry on 127.0.0.1. Measures requests/s and p50/p99 of the same closed-loop client
/// through the gateway (by <c>Host</c>) and straight at the container's published endpoint in the same run, then
/// kill -9 of the backend's agent: the time until its new copy (on the other worker) serves a request through the
/// gateway, and how much of that comes after the controller saw the copy running (the route change).
/// </summary>
public static class GatewayScenario
{
    private const string Domain = "gw.grid.local";
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(10);
    private static readonly string[] WorkerOptions =
        ["--public-address", "127.0.0.1", "--heartbeat-interval", "500ms", "--stop-on-disconnect-after", "3s", "--stop-grace", "1s"];

    public static async Task RunAsync(BenchScale scale, List<BenchRow> rows)
    {
        if (!File.Exists("/usr/sbin/runc") && !File.Exists("/usr/bin/runc"))
        {
            Console.Error.WriteLine("gateway: skipped (runc is not installed)");
            return;
        }

        var (duration, clients) = scale.Name switch
        {
            "tiny" => (TimeSpan.FromSeconds(1.5), 4),
            "large" => (TimeSpan.FromSeconds(30), 32),
            _ => (TimeSpan.FromSeconds(8), 16),
        };
        await using var registry = await LocalRegistry.StartAsync();
        var image = await registry.PushAsync(await TestImages.ShellAsync(), "bench/web");
        await using var grid = await LiveGrid.StartAsync("gateway", "--Grid:Health:HeartbeatInterval=00:00:00.500",
            "--Grid:Health:HeartbeatTimeout=00:00:02", "--Grid:Health:ScanInterval=00:00:00.200", $"--Grid:Gateways:Domain={Domain}");
        var resources = new { cru = 8, mru = 8L << 30, sru = 20L << 30 };
        var workers = new Dictionary<long, Testing.ChildProcess>();
        for (var i = 0; i < 2; i++)
        {
            var (nodeId, agent, _) = await grid.AddNodeAsync(resources, WorkerOptions);
            workers[nodeId] = agent;
        }

        var gatewayPort = Testing.FreePort.Get();
        await grid.AddNodeAsync(resources, [.. WorkerOptions, "--no-containers", "--gateway-listen", $"127.0.0.1:{gatewayPort}"]);
        await LiveGrid.UntilAsync(async () => (await Task.WhenAll(workers.Keys.Select(id => grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{id}", grid.Key, null))))
            .All(n => n["features"]!.AsArray().Any(f => f!.GetValue<string>() == "container")), "the workers report the container feature");

        var reservation = (await grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", grid.Key, new
        {
            resources = new { cru = 2, mru = 512L << 20, sru = 1L << 30 },
            constraints = new { features = new[] { "container" } },
        }))["reservationId"]!.GetValue<long>();
        var workload = (await grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservation}/workloads", grid.Key, new
        {
            name = "web",
            type = "container",
            container = new
            {
                image,
                args = new[] { TestImages.ServeReplicaAndToken },
                env = new Dictionary<string, string> { ["REPLICA"] = "web" },
                ports = new[] { new { name = "http", port = TestImages.HttpdPort } },
                restart = "always",
            },
        }))["workloadId"]!.GetValue<long>();
        await grid.SendAsync(HttpMethod.Post, "/api/v1/names", grid.Key, new
        {
            name = "bench",
            backends = new[] { new { workloadId = workload, port = "http" } },
            healthCheck = new { path = "/", interval = "1s" },
        });

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 1024 }) { Timeout = TimeSpan.FromSeconds(10) };
        var gateway = new Target(new Uri($"http://127.0.0.1:{gatewayPort}/"), $"bench.{Domain}");
        await LiveGrid.UntilAsync(async () => (await gateway.TryGetAsync(http)) is not null, "the name is served through the gateway",
            limit: TimeSpan.FromMinutes(3));
        var endpoint = (await grid.SendAsync(HttpMethod.Get, $"/api/v1/workloads/{workload}", grid.Key, null))["endpoints"]![0]!;
        var direct = new Target(new Uri($"http://{endpoint["address"]}:{endpoint["port"]}/"), null);

        try
        {
            // The same client, one after the other: straight at the endpoint, then through the gateway.
            var straight = await LoadAsync(http, direct, clients, duration);
            var proxied = await LoadAsync(http, gateway, clients, duration);
            var label = $"one gateway agent, busybox httpd in runc, {clients} closed-loop clients, {duration.TotalSeconds:0.#} s each";
            rows.Add(new BenchRow("gateway", label, "direct to the endpoint: requests/s", straight.PerSecond, "req/s"));
            rows.Add(new BenchRow("gateway", label, "through the gateway: requests/s", proxied.PerSecond, "req/s", "≥ 0.7 × direct",
                proxied.PerSecond >= 0.7 * straight.PerSecond));
            rows.Add(new BenchRow("gateway", label, "direct: p50", straight.P50, "ms"));
            rows.Add(new BenchRow("gateway", label, "direct: p99", straight.P99, "ms"));
            rows.Add(new BenchRow("gateway", label, "through the gateway: p50", proxied.P50, "ms"));
            rows.Add(new BenchRow("gateway", label, "through the gateway: p99", proxied.P99, "ms"));
            Console.WriteLine($"gateway: direct {straight.PerSecond:0} req/s (p50 {straight.P50:0.00} ms, p99 {straight.P99:0.00} ms), "
                + $"gateway {proxied.PerSecond:0} req/s (p50 {proxied.P50:0.00} ms, p99 {proxied.P99:0.00} ms), {proxied.Failed + straight.Failed} failed");
            if (proxied.Failed + straight.Failed > 0)
            {
                throw new BenchFailedException($"gateway: {straight.Failed} direct and {proxied.Failed} proxied requests failed");
            }

            await MoveAsync(grid, http, gateway, workload, workers, rows);
        }
        finally
        {
            // The agents go first (a living one would start a removed container again), then what they leave.
            foreach (var agent in workers.Values)
            {
                Testing.AgentWorkloads.KillQuietly(agent.Pid);
            }

            await ContainerLeftovers.RemoveAsync(grid.Root, workers.Keys, [workload], [reservation]);
        }
    }

    /// <summary>kill -9 of the backend's agent; the time until its new copy serves through the gateway.</summary>
    private static async Task MoveAsync(LiveGrid grid, HttpClient http, Target gateway, long workload, Dictionary<long, Testing.ChildProcess> workers,
        List<BenchRow> rows)
    {
        var before = await gateway.TryGetAsync(http) ?? throw new BenchFailedException("gateway: the name is not served before the move");
        var victim = await grid.RunningOnAsync(workload) ?? throw new BenchFailedException("gateway: the backend does not run");
        using (var process = Process.GetProcessById(workers[victim].Pid))
        {
            process.Kill(entireProcessTree: false);
        }

        var clock = Stopwatch.StartNew();
        TimeSpan? running = null;
        var watch = Task.Run(async () =>
        {
            await LiveGrid.UntilAsync(async () => await grid.RunningOnAsync(workload) is { } node && node != victim, "the backend runs on the other worker",
                Step, TimeSpan.FromMinutes(2));
            running = clock.Elapsed;
        });
        await LiveGrid.UntilAsync(async () => await gateway.TryGetAsync(http) is { } body && body != before,
            "the moved backend's new copy serves through the gateway", Step, TimeSpan.FromMinutes(2));
        var served = clock.Elapsed;
        await watch;
        var label = "kill -9 of the backend's agent (heartbeat timeout 2 s), one gateway";
        rows.Add(new BenchRow("gateway", label, "kill → first request served by the new copy", served.TotalMilliseconds, "ms"));
        var afterRunning = Math.Max(0, (served - running!.Value).TotalMilliseconds);
        rows.Add(new BenchRow("gateway", label, "new copy running (controller) → first request through the gateway", afterRunning, "ms", "≤ 1 s",
            afterRunning <= 1000));
        Console.WriteLine($"gateway: kill -9 → new copy running {running.Value.TotalSeconds:0.00} s, served through the gateway {served.TotalSeconds:0.00} s");
    }

    private static async Task<LoadResult> LoadAsync(HttpClient http, Target target, int clients, TimeSpan duration)
    {
        var latencies = new List<double>[clients];
        var failed = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(i => Task.Run(async () =>
        {
            var mine = latencies[i] = [];
            while (clock.Elapsed < duration)
            {
                var started = Stopwatch.GetTimestamp();
                if (await target.TryGetAsync(http) is null)
                {
                    Interlocked.Increment(ref failed);
                    continue;
                }

                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        })));
        var all = latencies.SelectMany(l => l).ToList();
        return new LoadResult(all.Count / clock.Elapsed.TotalSeconds, LiveGrid.Percentile(all, 0.5), LiveGrid.Percentile(all, 0.99), failed);
    }

    private sealed record LoadResult(double PerSecond, double P50, double P99, int Failed);

    /// <summary>Where requests go: a URL, and the <c>Host</c> to send (a name at a gateway) or none (the endpoint itself).</summary>
    private sealed record Target(Uri Url, string? Host)
    {
        /// <summary>The body of a 200 answer, else null.</summary>
        public async Task<string?> TryGetAsync(HttpClient http)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Url);
            if (Host is not null)
            {
                request.Headers.Host = Host;
            }

            try
            {
                using var response = await http.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                return response.IsSuccessStatusCode ? body : null;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                return null;
            }
        }
    }
}
