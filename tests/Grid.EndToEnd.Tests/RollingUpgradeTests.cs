using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// An upgrade as an operator runs it, from the previous release (<see cref="PreviousRelease"/>) to this build: three
/// silos of the previous release on PostgreSQL with real agents (process workloads) and create/cancel load; each silo
/// in turn is stopped (SIGTERM) and the current build started on its ports, then each agent is replaced by the
/// current one on the same work directory; then one silo is rolled back to the previous release. Nothing may answer
/// 500, a 503 must say when to retry, no acknowledged reservation may be lost, no node may be declared down and no
/// workload may start again.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class RollingUpgradeTests(SharedPostgres shared, ITestOutputHelper output)
{
    private const int Agents = 3;
    private const int RolledBack = 2;

    // How an agent is ended so that its workloads keep running for the next one: an agent since 0.3.0 hands them
    // over on SIGHUP (SIGTERM stops them, see AgentProcessTests); an older agent has no handler for it and simply
    // ends, which leaves them running as a kill -9 would.
    private const string HandOver = "HUP";

    // A silo hands its grains over before it exits; a busy 2-core machine needs a while for that.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task SilosThenAgentsUpgradeUnderLoadLosingNothingAndARolledBackSiloIsRefusedOrSafe()
    {
        var total = Stopwatch.StartNew();
        var previous = await PreviousRelease.FindAndBuildAsync();
        previous.Notes.ToList().ForEach(Say);
        var built = total.Elapsed;

        await using var grid = new GridProcesses();
        var agents = new List<Agent>();
        try
        {
            await UpgradeAsync(grid, previous, agents, total, built);
        }
        catch (Exception) when (Describe(grid, agents))
        {
            throw;
        }
    }

    private async Task UpgradeAsync(GridProcesses grid, PreviousRelease previous, List<Agent> agents, Stopwatch total, TimeSpan built)
    {
        var (currentHost, currentGrid) = (BuiltApp.PathOf("Grid.Host", "Grid.Host.dll"), BuiltApp.PathOf("Grid.Cli", "grid.dll"));
        string[] settings =
        [
            .. ClusterFailoverTests.ClusterSettings(await shared.Server.CreateDatabaseAsync("grid_upgrade")),
            // An agent's replacement (a process start on a busy machine) must fit in the heartbeat timeout, as the
            // default 9 s does on a machine that is not running three silos and the load besides.
            "--Grid:Health:HeartbeatTimeout=00:00:15",

            "--Logging:Console:FormatterOptions:TimestampFormat=HH:mm:ss.fff ",

            // No silo dies here (each leaves gracefully and says so): probes as patient as Orleans' defaults, so a
            // silo joining slowly on a starved machine is not voted dead by the others (seen at load average 65).
            "--Grid:Cluster:ProbeTimeout=00:00:05", "--Grid:Cluster:NumMissedProbesLimit=3",
        ];
        for (var i = 0; i < 3; i++)
        {
            grid.StartSiloOf(previous.HostDll, settings);
        }

        await Task.WhenAll(grid.Silos.Select(GridProcesses.WaitReadyAsync));
        // Not heartbeated here: a node up before its agent starts could be declared down while the agent starts.
        var (key, nodes) = await ClusterFailoverTests.SeedAsync(grid, Agents, heartbeat: false);
        await WaitActiveSilosAsync(grid, key, 3);

        // The agents reach the cluster through a balancer over the three silos, as they would in production.
        await using var balancer = new TcpProxy(grid.Silos.Select(s => s.Api.Port).ToList());
        var starts = grid.SharedDirectory("workloads");
        agents.AddRange(nodes.Select((n, i) => new Agent(n.NodeId, n.NodeKey, Path.Combine(grid.Root, $"agent{i}"), Path.Combine(starts, $"starts{i}.log"))));
        foreach (var agent in agents)
        {
            agent.Process = grid.StartAgentOf(previous.GridDll, balancer.Url, agent.NodeId, agent.NodeKey, agent.WorkDir, "--stop-grace", "2s");
        }

        await Poll.UntilAsync(async () => (await Task.WhenAll(agents.Select(a => ClusterInvariants.GetAsync(grid, grid.Silos[0], $"/api/v1/nodes/{a.NodeId}", key))))
            .All(n => n?["status"]?.GetValue<string>() == "up"), TimeSpan.FromSeconds(90), "every agent's node is up");
        foreach (var agent in agents)
        {
            (agent.ReservationId, agent.WorkloadId) = await RunWorkloadAsync(grid, key, agent);
        }

        await Poll.UntilAsync(async () => await AllRunningAsync(grid, key, agents), TimeSpan.FromSeconds(60), "every agent runs its workload");
        foreach (var agent in agents)
        {
            agent.Pid = await PidOfAsync(agent);
        }

        using var stop = new CancellationTokenSource();
        var load = new ClusterLoad(grid, key);
        var running = load.RunAsync(workers: 2, TimeSpan.FromMinutes(30), ipv4Every: 4, stop.Token);
        var downs = new ConcurrentQueue<string>();
        var watching = WatchNodesAsync(grid, key, nodes.Select(n => n.NodeId).ToList(), downs, stop.Token);
        await Poll.UntilAsync(() => load.Active.Count >= 20, TimeSpan.FromSeconds(60), "the load is under way");

        var upgradeStarted = DateTime.UtcNow;
        for (var i = 0; i < grid.Silos.Count; i++)
        {
            var clock = Stopwatch.StartNew();
            var silo = await grid.ReplaceSiloAsync(i, currentHost, StopTimeout, settings);
            var stopped = clock.Elapsed;
            await GridProcesses.WaitReadyAsync(silo);
            await WaitActiveSilosAsync(grid, key, 3);
            await WaitServedAsync(load, i, DateTime.UtcNow);
            Say($"silo {i}: stopped in {stopped.TotalSeconds:0.0} s, the current build ready, joined and serving {clock.Elapsed.TotalSeconds:0.0} s after SIGTERM");
        }

        var silosUpgraded = DateTime.UtcNow;
        foreach (var agent in agents)
        {
            var clock = Stopwatch.StartNew();
            await GridProcesses.StopGracefullyAsync(agent.Process!, TimeSpan.FromSeconds(30), HandOver);
            agent.Previous = agent.Process;
            agent.Process = grid.StartAgentOf(currentGrid, balancer.Url, agent.NodeId, agent.NodeKey, agent.WorkDir, "--stop-grace", "2s");
            await Poll.UntilAsync(() => agent.Process.Output.Contains($"Re-adopted orphan PID {agent.Pid}", StringComparison.Ordinal), TimeSpan.FromSeconds(60),
                $"the current agent of node {agent.NodeId} re-adopts workload PID {agent.Pid}");
            await Poll.UntilAsync(async () => await AllRunningAsync(grid, key, [agent]), TimeSpan.FromSeconds(30), $"node {agent.NodeId} reports its workload running");
            Say($"agent of node {agent.NodeId}: replaced, workload PID {agent.Pid} re-adopted and reported running {clock.Elapsed.TotalSeconds:0.0} s after the kill");
        }

        var agentsUpgraded = DateTime.UtcNow;
        var rollback = await RollBackOneSiloAsync(grid, key, load, previous, currentHost, settings);
        var rolledBack = DateTime.UtcNow;

        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromMinutes(2));
        await watching;

        var phases = new (string Name, DateTime Until)[] { ("before the upgrade", upgradeStarted), ("silo upgrade", silosUpgraded), ("agent upgrade", agentsUpgraded), ("rollback", rolledBack) };
        string PhaseOf(DateTime at) => phases.FirstOrDefault(p => at <= p.Until).Name ?? "end";
        var answers = load.Answers.ToList();
        Say($"{answers.Count} answers: {answers.Count(a => a.Status == HttpStatusCode.ServiceUnavailable)} x 503, {answers.Count(a => a.Status == 0)} connections failed; " +
            $"{load.Active.Count} active, {load.Cancelled.Count} cancelled; rollback: {rollback}");
        Say($"previous release built or found in {built.TotalSeconds:0} s; the whole test took {total.Elapsed.TotalSeconds:0} s");

        var errors = answers.Where(a => (int)a.Status >= 500 && a.Status != HttpStatusCode.ServiceUnavailable).ToList();
        Assert.True(errors.Count == 0, $"{errors.Count} answers >= 500 other than 503, first at {errors.FirstOrDefault().At:HH:mm:ss.fff} " +
            $"({string.Join(", ", errors.GroupBy(e => PhaseOf(e.At)).Select(g => $"{g.Count()} during the {g.Key}"))})");
        var bare = load.UnavailableWithoutRetryAfter.ToList();
        Assert.True(bare.Count == 0, $"{bare.Count} answers 503 without Retry-After ({string.Join(", ", bare.GroupBy(e => PhaseOf(e.At)).Select(g => $"{g.Count()} during the {g.Key}"))})");
        Assert.True(downs.IsEmpty, $"a node was not up: {string.Join("; ", downs.Take(10))}");
        foreach (var node in nodes)
        {
            var info = await grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{node.NodeId}", key, null, 200);
            Assert.True(info["rejoinAt"] is null, $"node {node.NodeId} was declared down and came back (rejoinAt {info["rejoinAt"]})");
        }

        foreach (var agent in agents)
        {
            Assert.Equal(agent.Pid, await PidOfAsync(agent));
            Assert.True(IsAlive(agent.Pid), $"workload PID {agent.Pid} of node {agent.NodeId} is gone");
            var started = File.ReadAllLines(agent.StartsFile).Length;
            Assert.True(started == 1, $"the workload of node {agent.NodeId} started {started} times");
        }

        Assert.True(await AllRunningAsync(grid, key, agents), "a workload is not reported running");
        await ClusterInvariants.AssertConsistentAsync(grid, grid.Silos[0], key, load, nodes.Select(n => n.NodeId), [.. agents.Select(a => a.ReservationId)]);
        Say($"cluster at the end: {await grid.SendAsync(HttpMethod.Get, "/api/v1/cluster", key, null, 200)}");
    }

    /// <summary>Says, when the test fails, which processes still ran and what each agent said last: a silo or agent that died explains much.</summary>
    private bool Describe(GridProcesses grid, List<Agent> agents)
    {
        foreach (var (silo, i) in grid.Silos.Select((s, i) => (s, i)))
        {
            Say($"silo {i} (PID {silo.Process.Pid}): {(silo.Process.HasExited ? $"exited with {silo.Process.ExitCode}" : "running")}");
        }

        foreach (var agent in agents.Where(a => a.Process is not null))
        {
            Say($"agent of node {agent.NodeId} (PID {agent.Process!.Pid}, workload PID {agent.Pid}, alive: {agent.Pid != 0 && IsAlive(agent.Pid)}), last lines:\n{GridProcesses.Tail(agent.Process.Output, 30)}" +
                (agent.Previous is null ? string.Empty : $"\nits previous agent's last lines:\n{GridProcesses.Tail(agent.Previous.Output, 15)}"));
        }

        return false;
    }

    /// <summary>
    /// Rolls silo <see cref="RolledBack"/> back to the previous release. Either it refuses to start, saying why (the
    /// stored schema is newer than it knows), and the current build takes its place again; or it joins, and the
    /// load goes through it for a while (the final checks then cover that run).
    /// </summary>
    private async Task<string> RollBackOneSiloAsync(GridProcesses grid, string key, ClusterLoad load, PreviousRelease previous, string currentHost, string[] settings)
    {
        var silo = await grid.ReplaceSiloAsync(RolledBack, previous.HostDll, StopTimeout, settings);
        await Poll.UntilAsync(async () => silo.Process.HasExited || await GridProcesses.IsReadyAsync(silo), TimeSpan.FromSeconds(90),
            "the rolled-back silo is ready or has refused to start");
        if (silo.Process.HasExited)
        {
            var said = GridProcesses.Tail(silo.Process.Output, 15);
            Say($"rollback to {previous.Ref}: refused at start, exit code {silo.Process.ExitCode}:\n{said}");
            Assert.True(silo.Process.ExitCode != 0, "the refusing silo exited with 0");
            Assert.Contains("schema", said, StringComparison.OrdinalIgnoreCase);

            // The refusal changed nothing: the current build starts on what it left.
            await GridProcesses.WaitReadyAsync(await grid.ReplaceSiloAsync(RolledBack, currentHost, StopTimeout, settings));
            await WaitActiveSilosAsync(grid, key, 3);
            return "refused with a clear message; the current build started again in its place";
        }

        await WaitActiveSilosAsync(grid, key, 3);
        await WaitServedAsync(load, RolledBack, DateTime.UtcNow);
        var since = DateTime.UtcNow;
        await Poll.UntilAsync(() => load.Answers.Count(a => a.Silo == RolledBack && a.At > since && a.Status is HttpStatusCode.Created or HttpStatusCode.NoContent) >= 20,
            TimeSpan.FromSeconds(60), "the rolled-back silo serves 20 more writes");
        Say($"rollback to {previous.Ref}: the silo joined and served writes (a safe run is asserted below)");
        return "joined and served";
    }

    private static async Task<(long ReservationId, long WorkloadId)> RunWorkloadAsync(GridProcesses grid, string key, Agent agent)
    {
        // Every silo's capacity view must have seen the node up first: until then it answers 409.
        var reservation = await grid.ReserveAsync(key, new { resources = new { cru = 1, mru = 64L << 20 }, constraints = new { nodeId = agent.NodeId } },
            whileNothingFits: true);
        var reservationId = reservation["reservationId"]!.GetValue<long>();
        var workload = await grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", key, new
        {
            name = "steady",
            type = "process",
            process = new
            {
                command = "/bin/sh",

                // One line per start: a restart of the workload, by any agent, shows as a second line.
                args = new[] { "-c", "echo started >> \"$STARTS\"; while true; do sleep 1; done" },
                env = new Dictionary<string, string> { ["STARTS"] = agent.StartsFile },
            },
        }, 201);
        return (reservationId, workload["workloadId"]!.GetValue<long>());
    }

    private static async Task<bool> AllRunningAsync(GridProcesses grid, string key, IEnumerable<Agent> agents)
    {
        foreach (var agent in agents)
        {
            var workload = await ClusterInvariants.GetAsync(grid, grid.Silos[0], $"/api/v1/workloads/{agent.WorkloadId}", key);
            if (workload?["state"]?.GetValue<string>() != "running" || !File.Exists(agent.StartsFile))
            {
                return false;
            }
        }

        return true;
    }

    private static async Task<int> PidOfAsync(Agent agent) =>
        JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(agent.WorkDir, "pids.json")))!.AsArray()
            .Single(e => e!["workloadId"]!.GetValue<long>() == agent.WorkloadId)!["pid"]!.GetValue<int>();

    /// <summary>Asks for every node's status every half second through the silos in turn and notes any that is not up.</summary>
    private static async Task WatchNodesAsync(GridProcesses grid, string key, List<long> nodeIds, ConcurrentQueue<string> downs, CancellationToken cancellationToken)
    {
        var turn = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        while (await timer.WaitForNextTickAsync(cancellationToken).AsTask().ContinueWith(t => !t.IsCanceled && t.Result, TaskScheduler.Default))
        {
            var silo = grid.Silos[turn++ % grid.Silos.Count];
            foreach (var nodeId in nodeIds)
            {
                try
                {
                    var status = (await ClusterInvariants.GetAsync(grid, silo, $"/api/v1/nodes/{nodeId}", key))?["status"]?.GetValue<string>();
                    if (status is not null and not "up")
                    {
                        downs.Enqueue($"node {nodeId} {status} at {DateTime.UtcNow:HH:mm:ss.fff}");
                    }
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    // That silo is restarting; the next turn asks another.
                }
            }
        }
    }

    /// <summary>Waits until the load has had a write acknowledged by silo <paramref name="index"/> after <paramref name="since"/>.</summary>
    private static Task WaitServedAsync(ClusterLoad load, int index, DateTime since) =>
        Poll.UntilAsync(() => load.Answers.Any(a => a.Silo == index && a.At > since && a.Status is HttpStatusCode.Created or HttpStatusCode.NoContent),
            TimeSpan.FromSeconds(60), $"silo {index} acknowledges a write of the load");

    private static Task WaitActiveSilosAsync(GridProcesses grid, string key, int count) =>
        Poll.UntilAsync(async () =>
        {
            foreach (var silo in grid.Silos.Where(s => !s.Process.HasExited))
            {
                try
                {
                    return (await ClusterInvariants.GetAsync(grid, silo, "/api/v1/cluster", key))?.AsArray()
                        .Count(s => s!["status"]!.GetValue<string>() == "active") == count;
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    // Ask the next one.
                }
            }

            return false;
        }, TimeSpan.FromSeconds(90), $"{count} silos are active");

    private static bool IsAlive(int pid) =>
        File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2].Equals("Z", StringComparison.Ordinal);

    private void Say(string line)
    {
        output.WriteLine(line);
        Console.WriteLine($"[upgrade] {line}");
    }

    /// <summary>One node, its agent (whichever build runs it now) and the workload that must never start again.</summary>
    private sealed class Agent(long nodeId, string nodeKey, string workDir, string startsFile)
    {
        public long NodeId { get; } = nodeId;

        public string NodeKey { get; } = nodeKey;

        public string WorkDir { get; } = workDir;

        public string StartsFile { get; } = startsFile;

        public ChildProcess? Process { get; set; }

        /// <summary>The agent this one replaced, for its last words when the test fails.</summary>
        public ChildProcess? Previous { get; set; }

        public long ReservationId { get; set; }

        public long WorkloadId { get; set; }

        public int Pid { get; set; }
    }
}
