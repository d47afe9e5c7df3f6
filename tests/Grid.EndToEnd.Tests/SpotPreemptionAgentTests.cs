using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// Spot capacity with a real controller and real agents: a spot reservation's process runs on a full node until a
/// priority-90 reservation arrives; the agent is told the notice and the process sees SIGTERM (its handler writes a
/// file); the reservation is <c>preempted</c>, not running anywhere, and runs again on a second node once that node
/// joins — never two copies at once.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class SpotPreemptionAgentTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly string[] AgentOptions = ["--heartbeat-interval", "500ms", "--stop-grace", "1s"];

    [Fact]
    public async Task ASpotProcessIsPreemptedWithNoticeAndRunsAgainOnANodeThatJoins()
    {
        await using var grid = new GridProcesses();
        await grid.StartHostAsync("--Grid:Health:HeartbeatInterval=00:00:00.500", "--Grid:Health:HeartbeatTimeout=00:00:05",
            "--Grid:Health:ScanInterval=00:00:00.200", "--Grid:Health:RetryBackoff=00:00:00.500",
            "--Grid:Scheduling:PreemptionNotice=00:00:03");
        var farmerKey = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "spot-farmer" }, 201))["apiKey"]!.GetValue<string>();
        var farmId = (await grid.SendAsync(HttpMethod.Post, "/api/v1/farms", farmerKey, new { name = "spot-farm" }, 201))["farmId"]!.GetValue<long>();
        var first = await StartNodeAsync(grid, farmerKey, farmId, "first");
        var tenantKey = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "spot-tenant" }, 201))["apiKey"]!.GetValue<string>();
        var whole = new { cru = 2, mru = 512L << 20 };

        // The spot reservation fills the node; its process records each start and, on SIGTERM, writes the file.
        var spot = (await grid.ReserveAsync(tenantKey, new { resources = whole, spot = true }))["reservationId"]!.GetValue<long>();
        var shared = grid.SharedDirectory("spot");
        var (starts, terms) = (Path.Combine(shared, "starts"), Path.Combine(shared, "term"));
        await grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{spot}/workloads", tenantKey, new
        {
            name = "spot-worker",
            type = "process",
            process = new
            {
                command = "/bin/sh",
                args = new[] { "-c", "echo $$ >> \"$STARTS\"; trap 'echo term > \"$TERM_FILE\"; exit 0' TERM; while :; do sleep 0.2; done" },
                env = new Dictionary<string, string> { ["STARTS"] = starts, ["TERM_FILE"] = terms },
            },
        }, 201);
        await Poll.UntilAsync(() => Task.FromResult(Starts(starts).Count == 1), Wait, "the spot process runs on the first node");
        var firstPid = Starts(starts)[0];

        // Priority 90 fits nowhere else: the spot reservation gives way on the first node.
        var high = await grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", tenantKey, new { resources = whole, priority = 90 }, 201);
        Assert.Equal(first, high["nodeId"]!.GetValue<long>());
        var highId = high["reservationId"]!.GetValue<long>();
        var preempted = await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{spot}", tenantKey, null, 200);
        Assert.Equal("preempted", preempted["state"]!.GetValue<string>());
        Assert.Equal(highId, preempted["preemptedBy"]!.GetValue<long>());

        // The process was running until the notice; its SIGTERM handler ran and it is gone; nothing else started.
        await Poll.UntilAsync(() => Task.FromResult(File.Exists(terms) && File.ReadAllText(terms).Trim() == "term"), Wait, "the process sees SIGTERM");
        await Poll.UntilAsync(() => Task.FromResult(!AgentWorkloads.IsAlive(firstPid)), Wait, "the preempted process ends");
        Assert.Single(Starts(starts));
        var events = (await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{spot}/events", tenantKey, null, 200)).AsArray();
        Assert.Contains(events, e => e!["kind"]!.GetValue<string>() == "preempted"
            && e["message"]!.GetValue<string>().Contains($"by reservation {highId}", StringComparison.Ordinal));

        // Room appears: a second node joins, and the spot reservation runs there (a new process, the first one gone).
        var second = await StartNodeAsync(grid, farmerKey, farmId, "second");
        await Poll.UntilAsync(async () => (await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{spot}", tenantKey, null, 200)) is var r
            && r["state"]!.GetValue<string>() == "active" && r["nodeId"]!.GetValue<long>() == second, Wait, "the spot reservation placed again on the second node");
        await Poll.UntilAsync(() => Task.FromResult(Starts(starts).Count == 2), Wait, "the spot process runs on the second node");
        Assert.True(AgentWorkloads.IsAlive(Starts(starts)[1]));
        Assert.False(AgentWorkloads.IsAlive(firstPid));
        output.WriteLine($"first pid {firstPid}, second pid {Starts(starts)[1]}; {events.Count} events");
    }

    private static async Task<long> StartNodeAsync(GridProcesses grid, string farmerKey, long farmId, string name)
    {
        var node = await grid.SendAsync(HttpMethod.Post, "/api/v1/nodes", farmerKey,
            new { farmId, resources = new { cru = 2, mru = 512L << 20, sru = 1L << 30 }, location = new { country = "Belgium", city = "Ghent" } }, 201);
        var nodeId = node["nodeId"]!.GetValue<long>();
        grid.StartAgent(nodeId, node["nodeKey"]!.GetValue<string>(), Path.Combine(grid.Root, $"agent-{name}"), AgentOptions);
        await Poll.UntilAsync(async () => (await grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{nodeId}", farmerKey, null, 200))["status"]!.GetValue<string>() == "up",
            Wait, $"the {name} agent heartbeats");
        return nodeId;
    }

    private static List<int> Starts(string path) =>
        File.Exists(path) ? [.. File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).Select(int.Parse)] : [];
}
