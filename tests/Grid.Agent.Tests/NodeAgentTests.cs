using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.Agent.Tests;

/// <summary>The agent's reconcile loop against a real HTTP controller endpoint and real child processes.</summary>
public sealed class NodeAgentTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Ticker = "while true; do echo tick >> out.txt; echo \"hello $GRID_WORKLOAD_ID $GREETING\"; sleep 0.1; done";

    private readonly TestWorkDir _dir = new();
    private readonly List<(NodeAgent Agent, CancellationTokenSource Stop, Task Run)> _agents = [];
    private FakeController _controller = null!;

    public async Task InitializeAsync() => _controller = await FakeController.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var (agent, stop, run) in _agents)
        {
            await stop.CancelAsync();
            await run.WaitAsync(TimeSpan.FromSeconds(10));
            await agent.DisposeAsync();
            stop.Dispose();
        }

        await _controller.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task StartsADesiredProcessWorkloadWhoseLogGrows()
    {
        _controller.Desired = [Script(1, 1, Ticker)];
        Start(NewAgent());

        await Poll.UntilAsync(() => _controller.LastReportOf(1, 1)?.State == WorkloadState.Running, TimeSpan.FromSeconds(10), "the workload is reported running");
        var ticks = Path.Combine(_dir.WorkloadFolder(1, 1), "out.txt");
        await Poll.UntilAsync(() => Lines(ticks) >= 3, TimeSpan.FromSeconds(10), "the workload appends lines in its own folder");
        var before = Lines(ticks);
        await Poll.UntilAsync(() => Lines(ticks) > before, TimeSpan.FromSeconds(10), "the file keeps growing");

        var stdout = Path.Combine(_dir.WorkloadFolder(1, 1), "stdout.log");
        await Poll.UntilAsync(() => File.Exists(stdout) && File.ReadAllText(stdout).Contains("hello 1 hi"), TimeSpan.FromSeconds(10), "stdout goes to stdout.log with the spec's env");
        Assert.Contains(_controller.RawBodies, body => body.Contains("\"state\":\"running\"", StringComparison.Ordinal));
        var pid = Assert.Single(_dir.Pids());
        Assert.True(ProcessProbe.IsAlive(pid.Pid, pid.StartMarker));
    }

    [Fact]
    public async Task RestartsAnExitedWorkloadWithBackoffAndCountsRestarts()
    {
        _controller.Desired = [Script(2, 1, "echo run >> out.txt; exit 3")];
        Start(NewAgent());

        await Poll.UntilAsync(() => _controller.LastReportOf(2, 1)?.Restarts >= 3, TimeSpan.FromSeconds(10), "three restarts are reported");
        Assert.True(Lines(Path.Combine(_dir.WorkloadFolder(2, 1), "out.txt")) >= 3);
        var messages = _controller.ReportsOf(2, 1).Select(r => r.Message ?? "").ToList();
        Assert.Contains(messages, m => m.Contains("exited with code 3", StringComparison.Ordinal));

        // The delay doubles from 0.1 s while the workload keeps exiting at once.
        await Poll.UntilAsync(
            () => _controller.ReportsOf(2, 1).Any(r => r.Message?.Contains("in 0.4s", StringComparison.Ordinal) == true), TimeSpan.FromSeconds(10),
            "the backoff reaches 0.4 s");
    }

    [Fact]
    public async Task StopsAWorkloadTheControllerNoLongerWants()
    {
        _controller.Desired = [Script(3, 1, Ticker)];
        Start(NewAgent());
        await Poll.UntilAsync(() => _controller.LastReportOf(3, 1)?.State == WorkloadState.Running, TimeSpan.FromSeconds(10), "the workload runs");
        var pid = Assert.Single(_dir.Pids());

        _controller.Desired = [];

        await Poll.UntilAsync(() => !ProcessProbe.IsAlive(pid.Pid, pid.StartMarker), TimeSpan.FromSeconds(10), "the process is gone");
        await Poll.UntilAsync(() => _controller.LastReportOf(3, 1)?.State == WorkloadState.Stopped, TimeSpan.FromSeconds(10), "the stop is reported");
        Assert.Empty(_dir.Pids());
    }

    [Fact]
    public async Task KeepsRunningWhatItHoldsWhileTheControllerAnswersUnchangedAndFollowsTheNextVersion()
    {
        _controller.Desired = [Script(11, 1, Ticker)];
        _controller.DesiredVersion = 5;
        _controller.AnswersUnchanged = true;
        Start(NewAgent());
        await Poll.UntilAsync(() => _controller.LastReportOf(11, 1)?.State == WorkloadState.Running, TimeSpan.FromSeconds(10), "the workload runs");
        var pid = Assert.Single(_dir.Pids());

        await Poll.UntilAsync(() => _controller.UnchangedAnswers >= 5, TimeSpan.FromSeconds(10), "the agent sends the version it holds and is answered \"unchanged\"");
        var reports = _controller.ReportsOf(11, 1).Count;
        await Poll.UntilAsync(() => _controller.ReportsOf(11, 1).Count > reports, TimeSpan.FromSeconds(10), "it goes on reporting the workload");
        Assert.True(ProcessProbe.IsAlive(pid.Pid, pid.StartMarker), "an unchanged answer (an empty list) stops nothing");
        Assert.Equal(WorkloadState.Running, _controller.LastReportOf(11, 1)?.State);

        _controller.Desired = [];
        _controller.DesiredVersion = 6;

        await Poll.UntilAsync(() => !ProcessProbe.IsAlive(pid.Pid, pid.StartMarker), TimeSpan.FromSeconds(10), "the next version's list (empty) is followed");
        await Poll.UntilAsync(() => _controller.Heartbeats.Any(h => h.DesiredVersion == 6), TimeSpan.FromSeconds(10), "and held");
    }

    [Fact]
    public async Task AnUnchangedAnswerOfAVersionItDoesNotHoldStopsNothingAndItAsksForTheWholeListAgain()
    {
        _controller.Desired = [Script(12, 1, Ticker)];
        _controller.DesiredVersion = 3;
        Start(NewAgent());
        await Poll.UntilAsync(() => _controller.Heartbeats.Any(h => h.DesiredVersion == 3), TimeSpan.FromSeconds(10), "the agent holds version 3");
        await Poll.UntilAsync(() => _controller.LastReportOf(12, 1)?.State == WorkloadState.Running, TimeSpan.FromSeconds(10), "the workload runs");
        var pid = Assert.Single(_dir.Pids());

        _controller.DesiredVersion = 4;
        _controller.AnswersUnchangedBlindly = true;
        var before = _controller.Heartbeats.Count;

        await Poll.UntilAsync(() => _controller.UnchangedAnswers >= 3, TimeSpan.FromSeconds(10), "heartbeats are answered \"unchanged\" at version 4");
        Assert.True(ProcessProbe.IsAlive(pid.Pid, pid.StartMarker), "an unchanged answer of a version the agent does not hold stops nothing");
        Assert.Contains(_controller.Heartbeats.Skip(before + 1), h => h.DesiredVersion is null);
    }

    [Fact]
    public async Task OnceItsReportsAreAcknowledgedItSendsOnlyWhatChangesAndEveryReportWhenTheControllerHoldsNone()
    {
        _controller.AcknowledgesReports = true;
        _controller.Desired = [Script(21, 1, "exec sleep 600"), Script(22, 1, "exec sleep 600")];
        Start(NewAgent());
        await Poll.UntilAsync(() => _controller.LastReportOf(21, 1)?.State == WorkloadState.Running && _controller.LastReportOf(22, 1)?.State == WorkloadState.Running,
            TimeSpan.FromSeconds(10), "both workloads are reported running");

        var quiet = _controller.Heartbeats.Count;
        await Poll.UntilAsync(() => _controller.Heartbeats.Skip(quiet).Count(h => h.ReportsBase is not null && h.Workloads.IsEmpty) >= 2,
            TimeSpan.FromSeconds(10), "heartbeats while both run on carry no report, as a change of the acknowledged version");
        var base1 = _controller.Heartbeats.Last().ReportsBase;

        _controller.Desired = [Script(21, 1, "exec sleep 600")];
        await Poll.UntilAsync(() => _controller.LastReportOf(22, 1)?.State == WorkloadState.Stopped, TimeSpan.FromSeconds(10), "the stop is reported");
        var change = _controller.Heartbeats.First(h => h.Workloads.Any(r => r.WorkloadId == 22 && r.State == WorkloadState.Stopped));
        Assert.Equal(base1, change.ReportsBase);
        Assert.NotEqual(change.ReportsBase, change.ReportsVersion);
        Assert.DoesNotContain(change.Workloads, r => r.WorkloadId == 21);

        _controller.AcknowledgesReports = false;
        var forgot = _controller.Heartbeats.Count;
        await Poll.UntilAsync(() => _controller.Heartbeats.Skip(forgot + 1).Any(h => h.ReportsBase is null && h.Workloads.Any(r => r.WorkloadId == 21 && r.State == WorkloadState.Running)),
            TimeSpan.FromSeconds(10), "once the controller acknowledges nothing, every report comes again");
    }

    [Fact]
    public async Task ReplacesAStaleEpochCopyWhenTheControllerPlacesANewerEpoch()
    {
        _controller.Desired = [Script(4, 1, Ticker)];
        Start(NewAgent());
        await Poll.UntilAsync(() => _controller.LastReportOf(4, 1)?.State == WorkloadState.Running, TimeSpan.FromSeconds(10), "epoch 1 runs");
        var old = Assert.Single(_dir.Pids());

        _controller.Desired = [Script(4, 2, Ticker)];

        await Poll.UntilAsync(() => !ProcessProbe.IsAlive(old.Pid, old.StartMarker), TimeSpan.FromSeconds(10), "the epoch 1 copy is stopped");
        await Poll.UntilAsync(() => _controller.LastReportOf(4, 2)?.State == WorkloadState.Running, TimeSpan.FromSeconds(10), "epoch 2 runs");
        Assert.Contains("stale epoch", _controller.LastReportOf(4, 1)?.Message, StringComparison.Ordinal);
        Assert.Equal(2, Assert.Single(_dir.Pids()).Epoch);
    }

    [Fact]
    public async Task ReadoptsItsOrphansAfterACrashAndKeepsThemWhileDesired()
    {
        var (first, orphan) = await StartRunningAsync(5);

        await first.DisposeAsync();
        Assert.True(ProcessProbe.IsAlive(orphan.Pid, orphan.StartMarker), "a crashed agent leaves its workloads running");
        var seen = _controller.Heartbeats.Count;

        Start(NewAgent());

        await Poll.UntilAsync(
            () => _controller.Heartbeats.Skip(seen).SelectMany(h => h.Workloads).Any(r => r.WorkloadId == 5 && r.Message?.Contains("re-adopted") == true), TimeSpan.FromSeconds(10),
            "the new agent reports the orphan it re-adopted");
        await Poll.UntilAsync(() => _controller.Heartbeats.Count >= seen + 4, TimeSpan.FromSeconds(10), "a few more heartbeats pass");
        Assert.True(ProcessProbe.IsAlive(orphan.Pid, orphan.StartMarker), "the controller still wants it: it is kept");
        Assert.Equal(orphan, Assert.Single(_dir.Pids()));

        _controller.Desired = [];
        await Poll.UntilAsync(() => !ProcessProbe.IsAlive(orphan.Pid, orphan.StartMarker), TimeSpan.FromSeconds(10), "the adopted orphan is stopped once undesired");
    }

    [Fact]
    public async Task StopsAnOrphanTheControllerMovedAwayWhileTheAgentWasDown()
    {
        var (first, orphan) = await StartRunningAsync(6);
        await first.DisposeAsync();

        _controller.Desired = [];
        Start(NewAgent());

        await Poll.UntilAsync(() => !ProcessProbe.IsAlive(orphan.Pid, orphan.StartMarker), TimeSpan.FromSeconds(10), "the orphan is stopped");
        await Poll.UntilAsync(() => _controller.LastReportOf(6, 1)?.State == WorkloadState.Stopped, TimeSpan.FromSeconds(10), "its stop is reported");
    }

    [Fact]
    public async Task SelfFencesWhenTheControllerGoesAway()
    {
        _controller.Desired = [Script(7, 1, Ticker)];
        Start(NewAgent(stopOnDisconnectAfter: TimeSpan.FromSeconds(1)));
        await Poll.UntilAsync(() => _controller.LastReportOf(7, 1)?.State == WorkloadState.Running, TimeSpan.FromSeconds(10), "the workload runs");
        var pid = Assert.Single(_dir.Pids());

        var clock = Stopwatch.StartNew();
        await _controller.StopAsync();

        await Poll.UntilAsync(() => !ProcessProbe.IsAlive(pid.Pid, pid.StartMarker), TimeSpan.FromSeconds(10), "the partitioned agent stops its workload");
        output.WriteLine($"self-fenced {clock.Elapsed.TotalSeconds:0.00}s after the controller went away (limit 1 s)");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.8), "not before the limit");
        await Poll.UntilAsync(() => _dir.Pids().Count == 0, TimeSpan.FromSeconds(10), "the PID file forgets it");
    }

    [Fact]
    public async Task ARestartedAgentCountsTheCutFromItsPredecessorsLastContactAndFencesAtOnce()
    {
        var (first, orphan) = await StartRunningAsync(8);
        var state = Path.Combine(_dir.Path, "link.txt");
        await Poll.UntilAsync(() => File.Exists(state), TimeSpan.FromSeconds(10), "the agent remembers its last contact");
        var remembered = (await File.ReadAllTextAsync(state)).Split(' ', StringSplitOptions.TrimEntries);
        Assert.InRange(long.Parse(remembered[0], CultureInfo.InvariantCulture),
            DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.Equal("30000", remembered[1]);

        // The controller becomes unreachable, the agent dies before its limit (30 s) has passed and is started again
        // after a cut of 40 s, as its predecessor left the work directory: the cut is written, not waited for.
        await _controller.StopAsync();
        await first.DisposeAsync();
        Assert.True(ProcessProbe.IsAlive(orphan.Pid, orphan.StartMarker), "a crashed agent leaves its workloads running");
        await File.WriteAllTextAsync(state, $"{DateTimeOffset.UtcNow.AddSeconds(-40).ToUnixTimeMilliseconds()} 30000\n");
        var restarted = Stopwatch.StartNew();
        Start(NewAgent());

        // Counted from its own start, the new agent would run the re-adopted copy for 30 s more while the controller
        // has moved it elsewhere: two copies.
        await Poll.UntilAsync(() => !ProcessProbe.IsAlive(orphan.Pid, orphan.StartMarker), TimeSpan.FromSeconds(20),
            "the restarted agent stops the workload it re-adopted: the cut began 40 s ago, beyond its limit");
        output.WriteLine($"fenced {restarted.Elapsed.TotalSeconds:0.00}s after the restart (the cut began 40 s before it, limit 30 s)");
    }

    [Fact]
    public async Task RefusesProcessWorkloadsUnlessAllowedAndModelsOtherTypes()
    {
        // A gateway is still modelled; a vm is only modelled on a node with KVM (issue 21: never running without it).
        var gateway = new WorkloadAssignment(9, 109, 1, new WorkloadSpec("gw", WorkloadType.Gateway, new Capacity(1, 1 << 30, 0, 0), null));
        var vm = new WorkloadAssignment(11, 111, 1, new WorkloadSpec("vm", WorkloadType.Vm, new Capacity(1, 1 << 30, 0, 0), null));
        var zdb = new WorkloadAssignment(12, 112, 1, new WorkloadSpec("zdb", WorkloadType.Zdb, new Capacity(0, 0, 1 << 30, 0), null));
        _controller.Desired = [Script(8, 1, Ticker), gateway, vm, zdb];
        Start(NewAgent(allowProcesses: false));

        await Poll.UntilAsync(() => _controller.LastReportOf(9, 1)?.State == WorkloadState.Running, TimeSpan.FromSeconds(10), "the gateway is reported running");
        await Poll.UntilAsync(() => _controller.LastReportOf(12, 1)?.State == WorkloadState.Unsupported, TimeSpan.FromSeconds(10), "the zdb is reported unsupported");
        Assert.Equal(WorkloadReasons.Unsupported, _controller.LastReportOf(12, 1)?.Reason);
        var kvm = File.Exists("/dev/kvm");
        await Poll.UntilAsync(
            () => _controller.LastReportOf(11, 1)?.State == (kvm ? WorkloadState.Running : WorkloadState.Failed), TimeSpan.FromSeconds(10), "the vm is reported as the node's KVM allows");
        Assert.Equal(kvm ? null : WorkloadReasons.FeatureMissing, _controller.LastReportOf(11, 1)?.Reason);
        var features = _controller.Heartbeats.Last().Features;
        Assert.NotNull(features);
        Assert.DoesNotContain(NodeFeatures.Process, features.Value);
        Assert.Equal(kvm, features.Value.Contains(NodeFeatures.Kvm));
        Assert.Equal("127.0.0.1", _controller.Heartbeats.Last().Address);
        var refused = _controller.LastReportOf(8, 1);
        Assert.Equal(WorkloadState.Failed, refused?.State);
        Assert.Contains("does not allow process workloads", refused?.Message, StringComparison.Ordinal);
        Assert.Empty(_dir.Pids());
        Assert.False(Directory.Exists(_dir.WorkloadFolder(8, 1)));
    }

    [Fact]
    public async Task ShutdownStopsWorkloadsWithSigtermFirst()
    {
        const string polite = "trap 'echo bye >> out.txt; exit 0' TERM; while true; do echo tick >> out.txt; sleep 0.1; done";
        _controller.Desired = [Script(10, 1, polite)];
        var (_, stop, run) = Start(NewAgent());
        await Poll.UntilAsync(() => _controller.LastReportOf(10, 1)?.State == WorkloadState.Running, TimeSpan.FromSeconds(10), "the workload runs");
        var pid = Assert.Single(_dir.Pids());

        // Running from the agent's view is not yet the shell's trap installed: wait for the loop's first tick.
        var output = Path.Combine(_dir.WorkloadFolder(10, 1), "out.txt");
        await Poll.UntilAsync(() => Lines(output) > 0, TimeSpan.FromSeconds(10), "the script has set its trap and ticks");
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(ProcessProbe.IsAlive(pid.Pid, pid.StartMarker));
        Assert.Contains("bye", File.ReadAllText(output), StringComparison.Ordinal);
        Assert.Empty(_dir.Pids());
    }

    [Fact]
    public void AWorkloadCgroupLeftWithASmallerLimitTakesALargerOne()
    {
        var limits = CgroupLimits.Detect();
        if (limits.Unavailable is { } why)
        {
            output.WriteLine($"not checked on this machine: {why}");
            return;
        }

        // An earlier epoch or agent run left this cgroup at 64 MiB (memory and memory+swap): the kernel refused
        // the larger memory limit (EINVAL) and the workload never started.
        var name = $"test-{Guid.NewGuid():N}";
        try
        {
            limits.Create(name, 1, 64 << 20);
            var procs = limits.Create(name, 1, 256 << 20);
            var memoryDir = Path.GetDirectoryName(procs[0])!;
            var limitFile = Path.Combine(memoryDir, File.Exists(Path.Combine(memoryDir, "memory.max")) ? "memory.max" : "memory.limit_in_bytes");
            Assert.Equal(256L << 20, long.Parse(File.ReadAllText(limitFile).Trim(), System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            limits.Remove(name);
        }
    }

    [Fact]
    public async Task AWorkloadUsingMoreMemoryThanReservedIsStoppedByTheLimitAndReportedFailed()
    {
        if (CgroupLimits.Detect().Unavailable is { } why)
        {
            output.WriteLine($"not checked on this machine: {why}");
            return;
        }

        // Reserves 32 MiB, then holds about 200 MiB in a shell variable.
        _controller.Desired = [Script(5, 1, "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived >> out.txt; sleep 60", mru: 32 << 20)];
        Start(NewAgent());

        await Poll.UntilAsync(() => _controller.LastReportOf(5, 1)?.Message?.Contains("memory limit", StringComparison.Ordinal) == true, TimeSpan.FromSeconds(10),
            "the workload is reported stopped by its memory limit");
        Assert.Equal(WorkloadState.Failed, _controller.LastReportOf(5, 1)!.State);
        Assert.False(File.Exists(Path.Combine(_dir.WorkloadFolder(5, 1), "out.txt")), "the allocation never succeeded");
    }

    [Fact]
    public async Task ProcessWorkloadsRunAsTheUnprivilegedWorkloadUserAndOnlyAllowedCommands()
    {
        _controller.Desired = [Script(6, 1, "id -u > uid.txt; sleep 60"), Script(7, 1, "true") with { Spec = Script(7, 1, "true").Spec with { Process = new ProcessSpec("/usr/bin/env", [], ImmutableDictionary<string, string>.Empty) } }];
        Start(NewAgent(allowedCommands: ["/bin/sh"]));

        await Poll.UntilAsync(() => _controller.LastReportOf(7, 1)?.State == WorkloadState.Failed, TimeSpan.FromSeconds(10), "a command off the allow-list is refused");
        Assert.Contains("allow-list", _controller.LastReportOf(7, 1)!.Message, StringComparison.Ordinal);
        var uidFile = Path.Combine(_dir.WorkloadFolder(6, 1), "uid.txt");
        await Poll.UntilAsync(() => File.Exists(uidFile) && File.ReadAllText(uidFile).Trim().Length > 0, TimeSpan.FromSeconds(10), "the workload writes its uid");
        var uid = File.ReadAllText(uidFile).Trim();
        Assert.NotEqual("0", uid);
    }

    private static WorkloadAssignment Script(long workloadId, long epoch, string script, long mru = 64 << 20) =>
        new(workloadId, 100 + workloadId, epoch, new WorkloadSpec(
            $"w{workloadId}",
            WorkloadType.Process,
            new Capacity(1, mru, 0, 0),
            new ProcessSpec("/bin/sh", ["-c", script], ImmutableDictionary<string, string>.Empty.Add("GREETING", "hi"))));

    private static int Lines(string path) => File.Exists(path) ? File.ReadAllLines(path).Length : 0;

    private NodeAgent NewAgent(bool allowProcesses = true, TimeSpan? stopOnDisconnectAfter = null, IReadOnlyList<string>? allowedCommands = null) =>
        new(
            new AgentOptions
            {
                ApiUrl = _controller.Url,
                NodeId = FakeController.NodeId,
                NodeKey = FakeController.NodeKey,
                WorkDir = _dir.Path,
                AllowProcessWorkloads = allowProcesses,
                AllowedCommands = allowedCommands ?? [],
                HeartbeatInterval = TimeSpan.FromMilliseconds(150),
                SupervisionInterval = TimeSpan.FromMilliseconds(25),
                RestartBackoffInitial = TimeSpan.FromMilliseconds(100),
                RestartBackoffMax = TimeSpan.FromMilliseconds(400),
                StopGracePeriod = TimeSpan.FromSeconds(2),
                RequestTimeout = TimeSpan.FromSeconds(2),
                StopOnDisconnectAfter = stopOnDisconnectAfter ?? TimeSpan.FromSeconds(30),
            },
            new XunitLogger<NodeAgent>(output));

    /// <summary>Starts an agent whose controller wants one ticking workload; answers the agent and the workload's PID entry once it runs.</summary>
    private async Task<(NodeAgent Agent, PidEntry Workload)> StartRunningAsync(long workloadId)
    {
        _controller.Desired = [Script(workloadId, 1, Ticker)];
        var agent = NewAgent();
        Start(agent);
        await Poll.UntilAsync(() => _controller.LastReportOf(workloadId, 1)?.State == WorkloadState.Running, TimeSpan.FromSeconds(10), "the workload runs");
        return (agent, Assert.Single(_dir.Pids()));
    }

    private (NodeAgent Agent, CancellationTokenSource Stop, Task Run) Start(NodeAgent agent)
    {
        var stop = new CancellationTokenSource();
        var started = (agent, stop, Task.Run(() => agent.RunAsync(stop.Token)));
        _agents.Add(started);
        return started;
    }
}
