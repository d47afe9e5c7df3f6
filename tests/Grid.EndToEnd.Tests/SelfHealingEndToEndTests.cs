using System.Diagnostics;
using System.Text.Json.Nodes;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>The controller and three real agents: a node's agent is killed and its workload moves, fenced.</summary>
[Collection(ProcessHeavy.Name)]
public sealed class SelfHealingEndToEndTests(ITestOutputHelper output)
{
    private static readonly string[] AgentOptions = ["--heartbeat-interval", "500ms", "--stop-on-disconnect-after", "3s", "--stop-grace", "1s"];

    [Fact]
    public async Task WorkloadOfAKilledAgentRunsElsewhereAndTheOrphanIsStoppedWhenTheAgentReturns()
    {
        await using var grid = new GridProcesses();
        await grid.StartHostAsync("--Grid:Health:HeartbeatInterval=00:00:00.500", "--Grid:Health:HeartbeatTimeout=00:00:02",
            "--Grid:Health:RejoinAfter=00:00:02", "--Grid:Health:ScanInterval=00:00:00.200");
        var key = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "e2e" }, 201))["apiKey"]!.GetValue<string>();
        var farm = (await grid.SendAsync(HttpMethod.Post, "/api/v1/farms", key, new { name = "e2e-farm" }, 201))["farmId"]!.GetValue<long>();
        var agents = new Dictionary<long, (string Key, string WorkDir, ChildProcess Process)>();
        for (var i = 0; i < 3; i++)
        {
            var node = await grid.SendAsync(HttpMethod.Post, "/api/v1/nodes", key,
                new { farmId = farm, resources = new { cru = 4, mru = 4L << 30, sru = 10L << 30 }, location = new { country = "Belgium", city = "Ghent" } }, 201);
            var (nodeId, nodeKey) = (node["nodeId"]!.GetValue<long>(), node["nodeKey"]!.GetValue<string>());
            var workDir = Path.Combine(grid.Root, $"agent{i}");
            agents[nodeId] = (nodeKey, workDir, grid.StartAgent(nodeId, nodeKey, workDir, AgentOptions));
        }

        await Poll.UntilAsync(async () => (await Task.WhenAll(agents.Keys.Select(id => NodeStatusAsync(grid, key, id)))).All(s => s == "up"),
            TimeSpan.FromSeconds(30), "all three agents heartbeat");

        var reservation = await grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", key, new { resources = new { cru = 1, mru = 256L << 20 } }, 201);
        var reservationId = reservation["reservationId"]!.GetValue<long>();
        var firstNode = reservation["nodeId"]!.GetValue<long>();
        // Agents run as root here, so the workload runs as the unprivileged workload user: give it a shared place to write.
        var shared = grid.SharedDirectory("shared");

        var outFile = Path.Combine(shared, "out.log");
        var workload = await grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", key, new
        {
            name = "ticker",
            type = "process",
            process = new
            {
                command = "/bin/sh",
                args = new[] { "-c", "while true; do echo \"$GRID_EPOCH\" >> \"$OUT\"; sleep 0.1; done" },
                env = new Dictionary<string, string> { ["OUT"] = outFile },
            },
        }, 201);
        var workloadId = workload["workloadId"]!.GetValue<long>();
        await Poll.UntilAsync(async () => await WorkloadAsync(grid, key, workloadId) is { } w && w["state"]!.GetValue<string>() == "running"
            && Lines(outFile).Count(l => l == "1") > 3, TimeSpan.FromSeconds(30), "the workload runs on its first node");

        var victim = agents[firstNode];
        var orphanPid = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(victim.WorkDir, "pids.json")))!.AsArray()
            .Single(e => e!["workloadId"]!.GetValue<long>() == workloadId)!["pid"]!.GetValue<int>();
        var clock = Stopwatch.StartNew();
        using (var agentProcess = Process.GetProcessById(victim.Process.Pid))
        {
            agentProcess.Kill(entireProcessTree: false);
        }

        await Poll.UntilAsync(async () => await WorkloadAsync(grid, key, workloadId) is { } w && w["state"]!.GetValue<string>() == "running"
            && w["epoch"]!.GetValue<long>() == 2 && w["nodeId"]!.GetValue<long>() != firstNode, TimeSpan.FromSeconds(60), "the workload runs on another node");
        var moved = clock.Elapsed;
        await Poll.UntilAsync(() => Lines(outFile).Any(l => l == "2"), TimeSpan.FromSeconds(10), "the new copy writes");
        output.WriteLine($"kill -9 of the agent -> workload running elsewhere (epoch 2): {moved.TotalSeconds:0.00} s");
        Console.WriteLine($"[e2e] workload moved {moved.TotalSeconds:0.00} s after kill -9 of its agent");
        Assert.True(IsAlive(orphanPid), "the orphaned copy keeps running while its agent is dead");

        grid.StartAgent(firstNode, victim.Key, victim.WorkDir, AgentOptions);
        await Poll.UntilAsync(() => !IsAlive(orphanPid), TimeSpan.FromSeconds(30), "the returning agent stops its orphaned copy");
        var epochOneLines = Lines(outFile).Count(l => l == "1");
        await Poll.UntilAsync(() => Lines(outFile).Count(l => l == "2") > 10, TimeSpan.FromSeconds(10), "the new copy keeps writing");
        Assert.Equal(epochOneLines, Lines(outFile).Count(l => l == "1"));

        var oldNode = await grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{firstNode}", key, null, 200);
        Assert.Empty(oldNode["allocations"]!.AsArray());
        Assert.Equal(0, oldNode["used"]!["cru"]!.GetValue<long>());
        var events = await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{reservationId}/events", key, null, 200);
        Assert.Contains(events.AsArray(), e => e!["kind"]!.GetValue<string>() == "moved");
    }

    private static async Task<string> NodeStatusAsync(GridProcesses grid, string key, long nodeId) =>
        (await grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{nodeId}", key, null, 200))["status"]!.GetValue<string>();

    private static Task<JsonNode> WorkloadAsync(GridProcesses grid, string key, long workloadId) =>
        grid.SendAsync(HttpMethod.Get, $"/api/v1/workloads/{workloadId}", key, null, 200);

    private static List<string> Lines(string path) =>
        File.Exists(path) ? [.. File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0)] : [];

    private static bool IsAlive(int pid) =>
        File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2].Equals("Z", StringComparison.Ordinal);
}
