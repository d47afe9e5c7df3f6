using System.Text.Json.Nodes;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// Prepaid billing with a real controller and a real agent, in real time (10 s cycles, 15 s of grace): 402 without
/// funds; with funds the process workload runs; an unpaid bill puts the reservation in grace and the agent stops
/// the process; a deposit resumes it and the agent starts it again; funds run out once more and grace expires:
/// cancelled (out of funds) and the node's capacity is free.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class PrepaidAgentTests(ITestOutputHelper output)
{
    private const string OperatorKey = "operator-key-of-the-prepaid-agent-test";
    private const int CycleSeconds = 10;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly string[] AgentOptions = ["--heartbeat-interval", "500ms", "--stop-grace", "1s"];

    [Fact]
    public async Task GraceStopsTheWorkloadOnTheAgentADepositRestartsItAndGraceExpiryCancelsAndFreesTheNode()
    {
        await using var grid = new GridProcesses();
        await grid.StartHostAsync("--Grid:Health:HeartbeatInterval=00:00:00.500", "--Grid:Health:HeartbeatTimeout=00:00:05",
            "--Grid:Health:ScanInterval=00:00:00.200", "--Grid:Billing:Mode=prepaid", $"--Grid:Billing:Cycle=00:00:{CycleSeconds}",
            "--Grid:Billing:SettleDelay=00:00:00", "--Grid:Billing:TickInterval=00:00:00.500", "--Grid:Billing:GracePeriod=00:00:15",
            $"--Grid:Billing:OperatorKey={OperatorKey}");
        var farmerKey = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "prepaid-farmer" }, 201))["apiKey"]!.GetValue<string>();
        var farmId = (await grid.SendAsync(HttpMethod.Post, "/api/v1/farms", farmerKey, new { name = "prepaid-farm" }, 201))["farmId"]!.GetValue<long>();
        var node = await grid.SendAsync(HttpMethod.Post, "/api/v1/nodes", farmerKey,
            new { farmId, resources = new { cru = 4, mru = 4L << 30, sru = 10L << 30 }, location = new { country = "Belgium", city = "Ghent" } }, 201);
        var nodeId = node["nodeId"]!.GetValue<long>();
        var workDir = Path.Combine(grid.Root, "agent");
        grid.StartAgent(nodeId, node["nodeKey"]!.GetValue<string>(), workDir, AgentOptions);
        await Poll.UntilAsync(async () => (await grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{nodeId}", farmerKey, null, 200))["status"]!.GetValue<string>() == "up",
            Wait, "the agent heartbeats");

        var tenant = await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "prepaid-tenant" }, 201);
        var (tenantId, tenantKey) = (tenant["twinId"]!.GetValue<long>(), tenant["apiKey"]!.GetValue<string>());
        var request = new { resources = new { cru = 1, mru = 256L << 20 } };
        // Asked again while a 409 says nothing fits: the silo's capacity view may not have seen the node up yet (a fresh-clone
        // run on a busy machine answered "0/1 nodes fit: 1 contended" right after the node grain said up).
        var pricePerHour = (await grid.SendAsync(HttpMethod.Post, "/api/v1/quotes", tenantKey, request, 200, whileNothingFits: true))["pricePerHour"]!.GetValue<long>();
        var cycle = pricePerHour * CycleSeconds / 3600;

        // No funds: 402, saying how much is missing (one cycle at the price of the node it would get).
        var refused = await grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", tenantKey, request, 402);
        Assert.Equal(402, refused["status"]!.GetValue<int>());
        Assert.Contains($"{cycle} missing", refused["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        // A cycle and a half: placed, runs, then a bill it cannot pay.
        await DepositAsync(grid, tenantId, cycle * 3 / 2);
        var reservationId = (await grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", tenantKey, request, 201))["reservationId"]!.GetValue<long>();
        var outFile = Path.Combine(grid.SharedDirectory("shared"), "out.log");
        var workloadId = (await grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", tenantKey, new
        {
            name = "ticker",
            type = "process",
            process = new
            {
                command = "/bin/sh",
                args = new[] { "-c", "while true; do echo tick >> \"$OUT\"; sleep 0.1; done" },
                env = new Dictionary<string, string> { ["OUT"] = outFile },
            },
        }, 201))["workloadId"]!.GetValue<long>();
        await Poll.UntilAsync(() => Task.FromResult(Lines(outFile) > 3), Wait, "the workload runs on the agent");
        var firstPid = await PidAsync(workDir, workloadId);
        Assert.True(IsAlive(firstPid));

        var started = DateTime.UtcNow;
        await UntilStateAsync(grid, tenantKey, reservationId, "grace");
        output.WriteLine($"grace {(DateTime.UtcNow - started).TotalSeconds:0.0} s after the workload ran");
        await Poll.UntilAsync(() => Task.FromResult(!IsAlive(firstPid)), Wait, "the agent stops the workload of a reservation in grace");
        Assert.Contains(reservationId, await AllocationsAsync(grid, farmerKey, nodeId));   // capacity kept in grace

        // A deposit that covers the debt brings it back, and the agent starts the workload again.
        while (await StateAsync(grid, tenantKey, reservationId) == "grace")
        {
            var balance = (await grid.SendAsync(HttpMethod.Get, "/api/v1/account", tenantKey, null, 200))["balance"]!.GetValue<long>();
            await DepositAsync(grid, tenantId, Math.Max(1, -balance + (cycle / 2)));
        }

        Assert.Equal("active", await StateAsync(grid, tenantKey, reservationId));
        var linesBefore = Lines(outFile);
        await Poll.UntilAsync(async () => await TryPidAsync(workDir, workloadId) is { } pid && pid != firstPid && IsAlive(pid) && Lines(outFile) > linesBefore + 3,
            Wait, "the agent starts the workload again after the deposit");
        var secondPid = await PidAsync(workDir, workloadId);

        // Funds run out again; after 15 s of grace the reservation is cancelled and the node freed.
        await UntilStateAsync(grid, tenantKey, reservationId, "grace");
        await Poll.UntilAsync(() => Task.FromResult(!IsAlive(secondPid)), Wait, "the agent stops the workload again");
        await UntilStateAsync(grid, tenantKey, reservationId, "cancelled");
        var events = (await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{reservationId}/events", tenantKey, null, 200)).AsArray();
        Assert.Contains(events, e => e!["kind"]!.GetValue<string>() == "cancelled" && e["message"]!.GetValue<string>().Contains("out of funds", StringComparison.Ordinal));
        await Poll.UntilAsync(async () => (await AllocationsAsync(grid, farmerKey, nodeId)).Length == 0, Wait, "the node frees the reservation's capacity");
        var freed = await grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{nodeId}", farmerKey, null, 200);
        Assert.Equal(0, freed["used"]!["cru"]!.GetValue<long>());
        Assert.Equal(2, events.Count(e => e!["kind"]!.GetValue<string>() == "grace"));
        var bills = (await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{reservationId}/bills", tenantKey, null, 200)).AsArray();
        output.WriteLine($"price {pricePerHour}/h, {bills.Count} bills, {events.Count} events");
    }

    private static Task DepositAsync(GridProcesses grid, long twinId, long amount) =>
        grid.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{twinId}/deposits", OperatorKey, new { amount }, 200);

    private static async Task<string> StateAsync(GridProcesses grid, string key, long reservationId) =>
        (await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{reservationId}", key, null, 200))["state"]!.GetValue<string>();

    private static Task UntilStateAsync(GridProcesses grid, string key, long reservationId, string state) =>
        Poll.UntilAsync(async () => await StateAsync(grid, key, reservationId) == state, Wait, $"reservation {reservationId} is {state}");

    private static async Task<long[]> AllocationsAsync(GridProcesses grid, string key, long nodeId) =>
        [.. (await grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{nodeId}", key, null, 200))["allocations"]!.AsArray()
            .Select(a => a!["reservationId"]!.GetValue<long>())];

    /// <summary>The pid the agent recorded for the workload (its pids.json), or null while it has none.</summary>
    private static async Task<int?> TryPidAsync(string workDir, long workloadId)
    {
        var path = Path.Combine(workDir, "pids.json");
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(await File.ReadAllTextAsync(path))!.AsArray()
                .LastOrDefault(e => e!["workloadId"]!.GetValue<long>() == workloadId)?["pid"]!.GetValue<int>();
        }
        catch (System.Text.Json.JsonException)
        {
            return null;   // read while the agent rewrites it
        }
    }

    private static async Task<int> PidAsync(string workDir, long workloadId)
    {
        int? pid = null;
        await Poll.UntilAsync(async () => (pid = await TryPidAsync(workDir, workloadId)) is not null, Wait, $"the agent records workload {workloadId}'s pid");
        return pid!.Value;
    }

    private static int Lines(string path) =>
        File.Exists(path) ? File.ReadAllLines(path).Count(l => l.Trim().Length > 0) : 0;

    private static bool IsAlive(int pid) =>
        File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2].Equals("Z", StringComparison.Ordinal);
}
