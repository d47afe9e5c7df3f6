using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grid.Client;
using Grid.Testing;

namespace Grid.Bench.Scenarios;

/// <summary>
/// Moves in about a second, end to end with real processes: a controller (in memory, 1 s heartbeat interval,
/// 4 s timeout) and real <c>grid agent</c> processes running <c>process</c> workloads. Per sample: a new
/// reservation gets a workload (the agent of the node it lands on is the sample's victim), timed from the create to the workload
/// <c>running</c>; then that agent is killed with kill -9, timed until the workload is <c>running</c> on another
/// node. Reports p50 and max of both (after one uncounted warm-up create), and how much of a move comes after
/// the node is declared down.
/// </summary>
public static class HealingScenario
{
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(4);

    // What is timed is polled this often (each poll is one GET), so it adds at most this much to a sample.
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(25);

    public static async Task RunAsync(BenchScale scale, List<BenchRow> rows)
    {
        var samples = scale.Name switch { "tiny" => 2, "large" => 10, _ => 5 };
        var root = Directory.CreateTempSubdirectory("grid-bench-healing-").FullName;
        var processes = new List<ChildProcess>();
        var workDirs = new List<string>();
        try
        {
            var api = new Uri($"http://127.0.0.1:{FreePort.Get()}");
            processes.Add(ChildProcess.Start("dotnet",
            [
                BuiltApp.PathOf("Grid.Host", "Grid.Host.dll"), "--urls", api.ToString().TrimEnd('/'),
                $"--Grid:Cluster:SiloPort={FreePort.Get()}", $"--Grid:Cluster:GatewayPort={FreePort.Get()}", "--Grid:Demo:Nodes=0",
                $"--Grid:Health:HeartbeatInterval={HeartbeatInterval}", $"--Grid:Health:HeartbeatTimeout={HeartbeatTimeout}",
                "--Grid:Health:ScanInterval=00:00:00.100", "--Grid:Health:RejoinAfter=00:00:02", "--Grid:Health:MassFailureShare=1.0",
                "--Logging:LogLevel:Default=Warning",
            ], logPath: Path.Combine(root, "controller.log")));
            using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(30) };
            await UntilAsync(async () => (await http.GetAsync("/health/ready")).IsSuccessStatusCode, "the controller is ready");
            var key = (await SendAsync(http, HttpMethod.Post, "/api/v1/twins", null, new { name = "healing" }))["apiKey"]!.GetValue<string>();
            var farm = (await SendAsync(http, HttpMethod.Post, "/api/v1/farms", key, new { name = "healing-farm" }))["farmId"]!.GetValue<long>();

            // One victim per sample and one spare, so every move has somewhere to go.
            var nodes = new List<(long NodeId, ChildProcess Agent)>();
            var progress = new Progress($"healing: {samples + 1} agents", samples + 1);
            for (var i = 0; i <= samples; i++)
            {
                var node = await SendAsync(http, HttpMethod.Post, "/api/v1/nodes", key,
                    new { farmId = farm, resources = new { cru = samples + 1, mru = (long)(samples + 1) << 30 }, location = new { country = "Belgium" } });
                var (nodeId, nodeKey) = (node["nodeId"]!.GetValue<long>(), node["nodeKey"]!.GetValue<string>());
                var workDir = Path.Combine(root, $"agent{i}");
                Directory.CreateDirectory(workDir);
                workDirs.Add(workDir);
                var agent = ChildProcess.Start("dotnet",
                [
                    BuiltApp.PathOf("Grid.Cli", "grid.dll"), "agent", "--api", api.ToString().TrimEnd('/'),
                    "--node-id", nodeId.ToString(CultureInfo.InvariantCulture), "--node-key", nodeKey,
                    "--workdir", workDir, "--allow-process-workloads", "--stop-grace", "1s",
                ], logPath: Path.Combine(workDir, "agent.log"));
                processes.Add(agent);
                nodes.Add((nodeId, agent));
                await UntilAsync(async () => (await SendAsync(http, HttpMethod.Get, $"/api/v1/nodes/{nodeId}", key, null))["status"]!.GetValue<string>() == "up",
                    $"agent {i} heartbeats");
                progress.Add();
            }

            var starts = new List<double>();
            var moves = new List<double>();
            var afterDown = new List<double>();
            // One warm-up create, not counted: the controller's first create and deploy run cold code paths.
            var warmUp = await SendAsync(http, HttpMethod.Post, "/api/v1/reservations", key, new { resources = new { cru = 1, mru = 128L << 20 } });
            var warmUpWorkload = (await SendAsync(http, HttpMethod.Post, $"/api/v1/reservations/{warmUp["reservationId"]}/workloads", key,
                new { name = "warm-up", type = "process", process = new { command = "/bin/sleep", args = new[] { "600" } } }))["workloadId"]!.GetValue<long>();
            await UntilAsync(async () => await RunningOnAsync(http, key, warmUpWorkload) is not null, "the warm-up workload runs");

            for (var i = 0; i < samples; i++)
            {
                // Unconstrained (a reservation pinned to a node stays with it): the victim is wherever it lands.
                var created = Stopwatch.StartNew();
                var placed = await SendAsync(http, HttpMethod.Post, "/api/v1/reservations", key, new { resources = new { cru = 1, mru = 128L << 20 } });
                var reservation = placed["reservationId"]!.GetValue<long>();
                var victim = nodes.Single(n => n.NodeId == placed["nodeId"]!.GetValue<long>());
                var workload = (await SendAsync(http, HttpMethod.Post, $"/api/v1/reservations/{reservation}/workloads", key,
                    new { name = "sleeper", type = "process", process = new { command = "/bin/sleep", args = new[] { "600" } } }))["workloadId"]!.GetValue<long>();
                await UntilAsync(async () => await RunningOnAsync(http, key, workload) == victim.NodeId, "the new workload runs", Step);
                starts.Add(created.Elapsed.TotalSeconds);

                var killed = Stopwatch.StartNew();
                victim.Agent.Kill();
                TimeSpan? down = null;
                await UntilAsync(async () =>
                {
                    // The node's down status as well, to tell detection from what follows it.
                    if (down is null && (await SendAsync(http, HttpMethod.Get, $"/api/v1/nodes/{victim.NodeId}", key, null))["status"]!.GetValue<string>() == "down")
                    {
                        down = killed.Elapsed;
                    }

                    return await RunningOnAsync(http, key, workload) is { } on && on != victim.NodeId;
                }, "the workload runs elsewhere", Step);
                moves.Add(killed.Elapsed.TotalSeconds);
                afterDown.Add((killed.Elapsed - (down ?? killed.Elapsed)).TotalSeconds);
                Console.WriteLine($"healing sample {i + 1}/{samples}: workload running {starts[^1]:0.00} s after create; " +
                    $"node down {down?.TotalSeconds:0.00} s and workload running elsewhere {moves[^1]:0.00} s after kill -9 of its agent");
            }

            var label = $"controller {HeartbeatInterval.TotalSeconds:0} s / {HeartbeatTimeout.TotalSeconds:0} s, real agents, {samples} samples";
            var moveGoal = HeartbeatTimeout + TimeSpan.FromSeconds(1);
            rows.Add(new BenchRow("healing", label, "new reservation → workload running, p50", Percentile(starts, 0.5) * 1000, "ms", "≤ 1 s", Percentile(starts, 0.5) <= 1));
            rows.Add(new BenchRow("healing", label, "new reservation → workload running, max", starts.Max() * 1000, "ms", "≤ 1 s", starts.Max() <= 1));
            rows.Add(new BenchRow("healing", label, "kill -9 of agent → running elsewhere, p50", Percentile(moves, 0.5) * 1000, "ms",
                $"≤ timeout + 1 s ({moveGoal.TotalSeconds:0} s)", Percentile(moves, 0.5) <= moveGoal.TotalSeconds));
            rows.Add(new BenchRow("healing", label, "kill -9 of agent → running elsewhere, max", moves.Max() * 1000, "ms",
                $"≤ timeout + 1 s ({moveGoal.TotalSeconds:0} s)", moves.Max() <= moveGoal.TotalSeconds));
            rows.Add(new BenchRow("healing", label, "of which node down → running elsewhere, p50", Percentile(afterDown, 0.5) * 1000, "ms"));
            rows.Add(new BenchRow("healing", label, "of which node down → running elsewhere, max", afterDown.Max() * 1000, "ms"));
        }
        finally
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }

            foreach (var workDir in workDirs)
            {
                await AgentWorkloads.KillRecordedAsync(workDir);
            }

            if (Environment.GetEnvironmentVariable("GRID_TEST_KEEP_LOGS") == "1")
            {
                Console.WriteLine($"healing: logs kept in {root}");
            }
            else
            {
                try
                {
                    Directory.Delete(root, recursive: true);
                }
                catch (IOException)
                {
                    // A process that just died may still hold a log file open.
                }
            }
        }
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Ceiling(p * sorted.Count) - 1];
    }

    private static async Task<long?> RunningOnAsync(HttpClient http, string key, long workloadId)
    {
        var workload = await SendAsync(http, HttpMethod.Get, $"/api/v1/workloads/{workloadId}", key, null);
        return workload["state"]!.GetValue<string>() == "running" ? workload["nodeId"]?.GetValue<long>() : null;
    }

    private static async Task<JsonNode> SendAsync(HttpClient http, HttpMethod method, string path, string? key, object? body)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Authorization = new("Bearer", key);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: GridJson.Api);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode
            ? JsonNode.Parse(string.IsNullOrEmpty(text) ? "{}" : text)!
            : throw new BenchFailedException($"{method} {path}: {(int)response.StatusCode} {text}");
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? every = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new BenchFailedException($"gave up after 60 s waiting until {what}");
            }

            await Task.Delay(every ?? TimeSpan.FromMilliseconds(200));
        }
    }
}
