using System.Diagnostics;
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
        await using var grid = await LiveGrid.StartAsync("healing",
            $"--Grid:Health:HeartbeatInterval={HeartbeatInterval}", $"--Grid:Health:HeartbeatTimeout={HeartbeatTimeout}",
            "--Grid:Health:ScanInterval=00:00:00.100", "--Grid:Health:RejoinAfter=00:00:02", "--Grid:Health:MassFailureShare=1.0");
        var key = grid.Key;

        // One victim per sample and one spare, so every move has somewhere to go.
        var nodes = new List<(long NodeId, ChildProcess Agent)>();
        var progress = new Progress($"healing: {samples + 1} agents", samples + 1);
        for (var i = 0; i <= samples; i++)
        {
            var (nodeId, agent, _) = await grid.AddNodeAsync(new { cru = samples + 1, mru = (long)(samples + 1) << 30 }, "--allow-process-workloads", "--stop-grace", "1s");
            nodes.Add((nodeId, agent));
            progress.Add();
        }

        var starts = new List<double>();
        var moves = new List<double>();
        var afterDown = new List<double>();
        // One warm-up create, not counted: the controller's first create and deploy run cold code paths.
        var warmUp = await grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", key, new { resources = new { cru = 1, mru = 128L << 20 } });
        var warmUpWorkload = (await grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{warmUp["reservationId"]}/workloads", key,
            new { name = "warm-up", type = "process", process = new { command = "/bin/sleep", args = new[] { "600" } } }))["workloadId"]!.GetValue<long>();
        await LiveGrid.UntilAsync(async () => await grid.RunningOnAsync(warmUpWorkload) is not null, "the warm-up workload runs");

        for (var i = 0; i < samples; i++)
        {
            // Unconstrained (a reservation pinned to a node stays with it): the victim is wherever it lands.
            var created = Stopwatch.StartNew();
            var placed = await grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", key, new { resources = new { cru = 1, mru = 128L << 20 } });
            var reservation = placed["reservationId"]!.GetValue<long>();
            var victim = nodes.Single(n => n.NodeId == placed["nodeId"]!.GetValue<long>());
            var workload = (await grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservation}/workloads", key,
                new { name = "sleeper", type = "process", process = new { command = "/bin/sleep", args = new[] { "600" } } }))["workloadId"]!.GetValue<long>();
            await LiveGrid.UntilAsync(async () => await grid.RunningOnAsync(workload) == victim.NodeId, "the new workload runs", Step);
            starts.Add(created.Elapsed.TotalSeconds);

            var killed = Stopwatch.StartNew();
            victim.Agent.Kill();
            TimeSpan? down = null;
            await LiveGrid.UntilAsync(async () =>
            {
                // The node's down status as well, to tell detection from what follows it.
                if (down is null && (await grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{victim.NodeId}", key, null))["status"]!.GetValue<string>() == "down")
                {
                    down = killed.Elapsed;
                }

                return await grid.RunningOnAsync(workload) is { } on && on != victim.NodeId;
            }, "the workload runs elsewhere", Step);
            moves.Add(killed.Elapsed.TotalSeconds);
            afterDown.Add((killed.Elapsed - (down ?? killed.Elapsed)).TotalSeconds);
            Console.WriteLine($"healing sample {i + 1}/{samples}: workload running {starts[^1]:0.00} s after create; " +
                $"node down {down?.TotalSeconds:0.00} s and workload running elsewhere {moves[^1]:0.00} s after kill -9 of its agent");
        }

        var label = $"controller {HeartbeatInterval.TotalSeconds:0} s / {HeartbeatTimeout.TotalSeconds:0} s, real agents, {samples} samples";
        var moveGoal = HeartbeatTimeout + TimeSpan.FromSeconds(1);
        rows.Add(new BenchRow("healing", label, "new reservation → workload running, p50", LiveGrid.Percentile(starts, 0.5) * 1000, "ms", "≤ 1 s", LiveGrid.Percentile(starts, 0.5) <= 1));
        rows.Add(new BenchRow("healing", label, "new reservation → workload running, max", starts.Max() * 1000, "ms", "≤ 1 s", starts.Max() <= 1));
        rows.Add(new BenchRow("healing", label, "kill -9 of agent → running elsewhere, p50", LiveGrid.Percentile(moves, 0.5) * 1000, "ms",
            $"≤ timeout + 1 s ({moveGoal.TotalSeconds:0} s)", LiveGrid.Percentile(moves, 0.5) <= moveGoal.TotalSeconds));
        rows.Add(new BenchRow("healing", label, "kill -9 of agent → running elsewhere, max", moves.Max() * 1000, "ms",
            $"≤ timeout + 1 s ({moveGoal.TotalSeconds:0} s)", moves.Max() <= moveGoal.TotalSeconds));
        rows.Add(new BenchRow("healing", label, "of which node down → running elsewhere, p50", LiveGrid.Percentile(afterDown, 0.5) * 1000, "ms"));
        rows.Add(new BenchRow("healing", label, "of which node down → running elsewhere, max", afterDown.Max() * 1000, "ms"));
    }
}
