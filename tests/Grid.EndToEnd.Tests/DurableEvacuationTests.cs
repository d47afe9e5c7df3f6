using System.Diagnostics;
using System.Globalization;
using System.Net;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// Moves off lost nodes run in the silo of each node grain. Three silos on PostgreSQL; several nodes go
/// silent and the first silo to start moving their reservations is killed (kill -9) at that moment. Within 60 s
/// every reservation must be active on an up node and the lost nodes must hold nothing. Two rounds, with a fresh
/// silo in between, so a different silo (hosting different node grains) dies each time.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class DurableEvacuationTests(SharedPostgres shared, ITestOutputHelper output)
{
    private const int Reservations = 200;
    private const int GroupSize = 4;
    private const string Moving = "Moving ";

    [Fact]
    public async Task MovesOffLostNodesSurviveTheSiloThatRanThem()
    {
        var postgres = shared.Server;
        await using var grid = new GridProcesses();
        string[] settings =
        [
            .. ClusterFailoverTests.ClusterSettings(await postgres.CreateDatabaseAsync("grid_evacuation")),
            // 5 s like the other cluster tests: at 3 s a cold three-silo start once stalled heartbeats long enough to
            // declare every node down before the first reservation (CI, fresh clone).
            "--Grid:Health:HeartbeatTimeout=00:00:05",
            // Every lost node's farm is braked from its first loss, so the moves take seconds and the kill lands mid-way.
            "--Grid:Health:MassFailureShare=0.2", "--Grid:Health:MassFailureMovesPerSecond=25",
            "--Logging:LogLevel:Grid.Scheduling.EvacuationQueue=Information",
        ];
        for (var i = 0; i < 3; i++)
        {
            grid.StartSilo(settings);
        }

        await Task.WhenAll(grid.Silos.Select(GridProcesses.WaitReadyAsync));
        var key = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "evacuation" }, 201))["apiKey"]!.GetValue<string>();
        await WaitActiveSilosAsync(grid, key, 3);
        var load = new ClusterLoad(grid, key);
        using var stopAll = new CancellationTokenSource();
        var beats = new List<Task>();

        // Group A takes every reservation (binpack fills the only nodes there are); group B is registered after.
        var (a, stopA) = await GroupAsync(grid, key, load, beats, stopAll.Token);
        var ids = new List<long>();
        foreach (var chunk in Enumerable.Range(0, Reservations).Chunk(25))
        {
            ids.AddRange(await Task.WhenAll(chunk.Select(async _ => (await grid.ReserveAsync(key,
                new { resources = new { cru = 1, mru = 64L << 20 } }))["reservationId"]!.GetValue<long>())));
        }

        var (b, stopB) = await GroupAsync(grid, key, load, beats, stopAll.Token);
        await RoundAsync(grid, key, load, ids, lost: a, stopA, up: b, round: 1);

        // A fresh third silo, then group C; now group B goes silent.
        await GridProcesses.WaitReadyAsync(grid.StartSilo(settings));
        await WaitActiveSilosAsync(grid, key, 3);
        var (c, _) = await GroupAsync(grid, key, load, beats, stopAll.Token);
        await RoundAsync(grid, key, load, ids, lost: b, stopB, up: c, round: 2);

        await stopAll.CancelAsync();
        await Task.WhenAll(beats);
    }

    private async Task RoundAsync(
        GridProcesses grid, string key, ClusterLoad load, List<long> ids, List<long> lost, CancellationTokenSource silence, List<long> up, int round)
    {
        // The silo to kill is the one moving the lost node that holds the most reservations (at least a quarter of
        // them): under the brake its moves take seconds, so the kill lands with most of them not done. (The first
        // silo to log any move run was once one whose node held two reservations, both moved before the kill; no
        // survivor had anything to resume and the round proved nothing: CI, fresh clone.)
        var held = new Dictionary<long, int>();
        foreach (var nodeId in lost)
        {
            held[nodeId] = (await ClusterInvariants.GetAsync(grid, grid.Silos[LiveSilo(load, grid)], $"/api/v1/nodes/{nodeId}", key))?["allocations"]?.AsArray().Count ?? 0;
        }

        var (target, holds) = held.MaxBy(h => h.Value);
        Assert.True(holds >= ids.Count / lost.Count, $"round {round}: the fullest lost node holds {holds} reservations");
        // Any count: the run moves what the node holds when it starts, and an allocation released meanwhile (an orphan
        // that round 1's interrupted moves can leave, freed by the node's orphan check) makes that differ from the count
        // read here. Waiting for this exact count timed out once in CI (fresh clone, round 2); the failure now also says
        // what the silos logged.
        var run = new System.Text.RegularExpressions.Regex($@"Moving \d+ reservations off node {target} \(");

        var seen = grid.Silos.Select(s => s.Process.Output.Length).ToList();
        await silence.CancelAsync();

        var victim = -1;
        try
        {
            await Poll.UntilAsync(() =>
            {
                victim = Enumerable.Range(0, grid.Silos.Count)
                    .Where(i => !load.Down.ContainsKey(i))
                    .FirstOrDefault(i => run.IsMatch(grid.Silos[i].Process.Output[seen[i]..]), -1);
                return victim >= 0;
            }, TimeSpan.FromSeconds(30), $"a silo starts moving the {holds} reservations off node {target}", maxPause: TimeSpan.FromMilliseconds(20));
        }
        catch (TimeoutException exception)
        {
            // What the silos said about the lost nodes, and what the heartbeats were answered: the wait alone says neither.
            throw new TimeoutException($"{exception.Message}\nheartbeat answers by status: {string.Join(", ", load.Answers.Where(a => a.Heartbeat).GroupBy(a => (int)a.Status).Select(g => $"{g.Key}: {g.Count()}"))}\n{Story(grid, seen)}", exception);
        }
        load.Down[victim] = 0;
        using (var process = Process.GetProcessById(grid.Silos[victim].Process.Pid))
        {
            process.Kill(entireProcessTree: false);
        }

        var clock = Stopwatch.StartNew();
        var via = grid.Silos[LiveSilo(load, grid)];
        string? problem = null;
        try
        {
            await Poll.UntilAsync(async () => (problem = await FindProblemAsync(grid, via, key, ids, lost, up)) is null,
                TimeSpan.FromSeconds(60), "every reservation active on an up node and the lost nodes empty");
        }
        catch (TimeoutException)
        {
            Assert.Fail($"round {round}: not healed 60 s after the kill: {problem}");
        }

        var healed = clock.Elapsed;

        // The moves the dead silo had not done were found again by a survivor, not by luck of timing.
        var resumed = Enumerable.Range(0, grid.Silos.Count).Where(i => !load.Down.ContainsKey(i))
            .Sum(i => CountOf(grid.Silos[i].Process.Output[seen[i]..], "moving them (again)"));
        output.WriteLine($"round {round}: killed silo {victim} as it started moving {holds} reservations off node {target}; all {ids.Count} reservations active on up nodes " +
            $"{healed.TotalSeconds:0.0} s after the kill; {resumed} resumed move runs (the lost nodes held {string.Join('/', held.Values)})");
        Console.WriteLine($"[healing] round {round}: {ids.Count} reservations healed {healed.TotalSeconds:0.0} s after kill -9 of the evacuating silo");
        Assert.True(resumed > 0, $"no surviving silo resumed the moves of the killed one; what the silos logged about the lost nodes:\n{Story(grid, seen)}");
    }

    private static async Task<string?> FindProblemAsync(GridProcesses grid, SiloProcess via, string key, List<long> ids, List<long> lost, List<long> up)
    {
        try
        {
            foreach (var nodeId in lost)
            {
                var node = await ClusterInvariants.GetAsync(grid, via, $"/api/v1/nodes/{nodeId}", key);
                if (node?["allocations"]?.AsArray().Count is not 0)
                {
                    return $"lost node {nodeId} holds {node?["allocations"]?.AsArray().Count.ToString(CultureInfo.InvariantCulture) ?? "?"} allocations";
                }
            }

            foreach (var chunk in ids.Chunk(50))
            {
                var reservations = await Task.WhenAll(chunk.Select(id => ClusterInvariants.GetAsync(grid, via, $"/api/v1/reservations/{id}", key)));
                if (reservations.FirstOrDefault(r => r?["state"]?.GetValue<string>() != "active" || !up.Contains(r["nodeId"]!.GetValue<long>())) is { } wrong)
                {
                    return $"reservation {wrong["reservationId"]} is {wrong["state"]} on node {wrong["nodeId"]}";
                }

                if (reservations.Any(r => r is null))
                {
                    return "a reservation could not be read";
                }
            }

            return null;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            return exception.Message;
        }
    }

    /// <summary>Registers a farm of <see cref="GroupSize"/> nodes and heartbeats them until the returned source is cancelled.</summary>
    private static async Task<(List<long> Nodes, CancellationTokenSource Silence)> GroupAsync(
        GridProcesses grid, string key, ClusterLoad load, List<Task> beats, CancellationToken all)
    {
        var via = grid.Silos[LiveSilo(load, grid)];
        var farm = await SendAsync(via, HttpMethod.Post, "/api/v1/farms", key, new { name = $"farm-{Guid.NewGuid():N}" });
        var nodes = new List<(long NodeId, string NodeKey)>();
        for (var i = 0; i < GroupSize; i++)
        {
            var node = await SendAsync(via, HttpMethod.Post, "/api/v1/nodes", key, new
            {
                farmId = farm["farmId"]!.GetValue<long>(),
                resources = new { cru = 80, mru = 80L << 30 },
                location = new { country = "Belgium" },
            });
            nodes.Add((node["nodeId"]!.GetValue<long>(), node["nodeKey"]!.GetValue<string>()));
        }

        var silence = CancellationTokenSource.CreateLinkedTokenSource(all);
        beats.Add(load.HeartbeatAsync(nodes, silence.Token));
        await Poll.UntilAsync(async () => (await Task.WhenAll(nodes.Select(n => ClusterInvariants.GetAsync(grid, via, $"/api/v1/nodes/{n.NodeId}", key))))
            .All(n => n?["status"]?.GetValue<string>() == "up"), TimeSpan.FromSeconds(30), "the group's nodes are up");

        // Each silo places from its own copy of the index, refreshed every 200 ms (and at the node's next heartbeat
        // when a status change missed its shard): until a silo's copy has the group up, that silo answers 409 "down"
        // for it (seen once in CI, fresh clone, right after a cold start). Wait until every live silo sees them up.
        var farmId = farm["farmId"]!.GetValue<long>();
        await Poll.UntilAsync(async () => (await Task.WhenAll(grid.Silos.Where(s => !s.Process.HasExited)
                .Select(s => ClusterInvariants.GetAsync(grid, s, $"/nodes?farm_ids={farmId}&status=up", key))))
            .All(list => list?.AsArray().Count == GroupSize), TimeSpan.FromSeconds(30), "every silo's view has the group's nodes up");
        return ([.. nodes.Select(n => n.NodeId)], silence);
    }

    private static Task<System.Text.Json.Nodes.JsonNode> SendAsync(SiloProcess via, HttpMethod method, string path, string key, object body) =>
        GridProcesses.SendAsync(via.Http, method, path, key, body, (int)HttpStatusCode.Created);

    private static Task WaitActiveSilosAsync(GridProcesses grid, string key, int count) =>
        Poll.UntilAsync(async () =>
        {
            var live = grid.Silos.Where(s => !s.Process.HasExited).ToList();
            var silos = await ClusterInvariants.GetAsync(grid, live[^1], "/api/v1/cluster", key);
            return silos?.AsArray().Count(s => s!["status"]!.GetValue<string>() == "active") == count;
        }, TimeSpan.FromSeconds(90), $"{count} silos are active");

    private static int LiveSilo(ClusterLoad load, GridProcesses grid) =>
        Enumerable.Range(0, grid.Silos.Count).First(i => !load.Down.ContainsKey(i));

    /// <summary>Each silo's log lines of the round about down nodes and moves, for a failure message.</summary>
    private static string Story(GridProcesses grid, List<int> seen) => string.Join('\n', grid.Silos.Select((s, i) =>
        $"silo {i}{(s.Process.HasExited ? " (dead)" : "")}:\n" + string.Join('\n', s.Process.Output[Math.Min(seen.ElementAtOrDefault(i), s.Process.Output.Length)..]
            .Split('\n').Where(l => l.Contains("node", StringComparison.OrdinalIgnoreCase) || l.Contains("Moving", StringComparison.Ordinal)).Take(40))));

    private static int CountOf(string text, string what)
    {
        var count = 0;
        for (var at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
