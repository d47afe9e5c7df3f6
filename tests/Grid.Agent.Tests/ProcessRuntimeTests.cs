using System.Collections.Immutable;
using Grid.Agent.Runtimes;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.Agent.Tests;

/// <summary>The <c>process</c> runtime through the runtime interface, with real child processes and a real PID file.</summary>
public sealed class ProcessRuntimeTests(ITestOutputHelper output) : IDisposable
{
    // Its own node id: cgroups are named by node (and agent), and other test classes run agents at the same time.
    private const long NodeId = 77;

    private readonly TestWorkDir _dir = new();
    private readonly List<ProcessRuntime> _runtimes = [];

    public void Dispose()
    {
        foreach (var runtime in _runtimes)
        {
            runtime.Dispose();
        }

        _dir.Dispose();
    }

    [Fact]
    public async Task StartsInspectsAndStopsAWorkload()
    {
        var runtime = await NewRuntimeAsync();
        var key = new WorkloadKey(1, 1);

        Assert.Equal(WorkloadStatus.Running, await runtime.StartAsync(Script(key, "sleep 30"), default));
        var pid = Assert.Single(_dir.Pids());
        Assert.Equal((1L, 1L), (pid.WorkloadId, pid.Epoch));
        Assert.True(Directory.Exists(_dir.WorkloadFolder(1, 1)));
        Assert.Equal(WorkloadCondition.Running, (await runtime.InspectAsync(key, default)).Condition);

        await runtime.StopAsync(key, default);

        Assert.False(ProcessProbe.IsAlive(pid.Pid, pid.StartMarker));
        Assert.Empty(_dir.Pids());
        Assert.Equal(WorkloadCondition.Exited, (await runtime.InspectAsync(key, default)).Condition);
        await runtime.StopAsync(key, default);
    }

    [Fact]
    public async Task AnEndedWorkloadIsAnsweredWithItsExitCodeAndForgotten()
    {
        var runtime = await NewRuntimeAsync();
        var key = new WorkloadKey(2, 3);
        await runtime.StartAsync(Script(key, "exit 3"), default);

        WorkloadStatus? status = null;
        await Poll.UntilAsync(
            () => (status = runtime.InspectAsync(key, default).Result).Condition != WorkloadCondition.Running, TimeSpan.FromSeconds(10), "the runtime notices the exit");

        Assert.Equal(new WorkloadStatus(WorkloadCondition.Exited, ExitCode: 3), status);
        Assert.Empty(_dir.Pids());
        Assert.Null((await runtime.InspectAsync(key, default)).ExitCode);
    }

    [Fact]
    public async Task ANewRuntimeAdoptsWhatStillRunsAndForgetsWhatIsGone()
    {
        var first = await NewRuntimeAsync();
        await first.StartAsync(Script(new WorkloadKey(3, 1), "sleep 30"), default);
        await first.StartAsync(Script(new WorkloadKey(4, 2), "sleep 30"), default);
        var gone = _dir.Pids().Single(p => p.WorkloadId == 4);
        first.Dispose();
        Assert.Equal(2, _dir.Pids().Count);
        Assert.True(ProcessProbe.IsAlive(gone.Pid, gone.StartMarker), "releasing a runtime leaves its processes running");
        // The process itself, not its group: just started, it may not lead its group yet.
        ProcessProbe.Signal(gone.Pid, group: false, ProcessProbe.SigKill);
        await Poll.UntilAsync(() => !ProcessProbe.IsAlive(gone.Pid, gone.StartMarker), TimeSpan.FromSeconds(10), "the killed workload is gone");

        var second = await NewRuntimeAsync();
        var adopted = await second.AdoptAsync(default);

        Assert.Equal([new WorkloadKey(3, 1)], adopted);
        var kept = Assert.Single(_dir.Pids());
        Assert.Equal(WorkloadCondition.Running, (await second.InspectAsync(new WorkloadKey(3, 1), default)).Condition);
        await second.StopAsync(new WorkloadKey(3, 1), default);
        Assert.False(ProcessProbe.IsAlive(kept.Pid, kept.StartMarker));
        Assert.Empty(_dir.Pids());
    }

    [Fact]
    public async Task AWorkloadsCgroupsAreNamedByItsAgentAndThoseOfAnAgentBefore050AreStillRemoved()
    {
        var limits = Grid.Agent.Runtimes.Processes.CgroupLimits.Detect();
        var first = await NewRuntimeAsync();
        var key = new WorkloadKey(6, 1);
        await first.StartAsync(Script(key, "sleep 30"), default);
        var named = $"{AgentOptions.AgentOf(_dir.Path)}-n{NodeId}-w6-e1";
        var entry = Assert.Single(_dir.Pids());
        Assert.Equal(named, entry.Cgroup);
        if (limits.Unavailable is { } why)
        {
            output.WriteLine($"cgroups not checked on this machine: {why}");
            return;
        }

        // As a 0.4.0 agent left it: a PID file without the name, the cgroups named by node and workload only.
        var legacy = $"n{NodeId}-w6-e1";
        try
        {
            first.Dispose();
            var legacyDir = Path.GetDirectoryName(limits.Create(legacy, 1, 64 << 20)[0])!;
            Grid.Agent.Runtimes.Processes.PidFile.Save(_dir.Path, [entry with { Cgroup = null }]);
            var second = await NewRuntimeAsync();
            Assert.Equal([key], await second.AdoptAsync(default));
            ProcessProbe.Signal(entry.Pid, group: false, ProcessProbe.SigKill);
            await Poll.UntilAsync(async () => (await second.InspectAsync(key, default)).Condition != WorkloadCondition.Running, TimeSpan.FromSeconds(10), "the exit is noticed");

            Assert.False(Directory.Exists(legacyDir), $"{legacyDir} is left behind");
        }
        finally
        {
            limits.Remove(legacy);
            limits.Remove(named);
        }
    }

    [Theory]
    [InlineData(false, "/bin/sh", "does not allow process workloads")]
    [InlineData(true, "/usr/bin/env", "is not on this farm's allow-list")]
    [InlineData(true, " ", "has no command")]
    public async Task RefusesWhatThisAgentDoesNotAllowWithoutRunningAnything(bool allow, string command, string reason)
    {
        var runtime = await NewRuntimeAsync(allow);
        var assignment = Script(new WorkloadKey(5, 1), "true");
        assignment = assignment with { Spec = assignment.Spec with { Process = assignment.Spec.Process! with { Command = command } } };

        var status = await runtime.StartAsync(assignment, default);

        Assert.Equal(WorkloadCondition.Refused, status.Condition);
        Assert.Contains(reason, status.Message, StringComparison.Ordinal);
        Assert.Empty(_dir.Pids());
        Assert.False(Directory.Exists(_dir.WorkloadFolder(5, 1)));
    }

    private async Task<ProcessRuntime> NewRuntimeAsync(bool allow = true)
    {
        var runtime = new ProcessRuntime(
            new AgentOptions
            {
                ApiUrl = new Uri("http://127.0.0.1:1"),
                NodeId = NodeId,
                WorkDir = _dir.Path,
                AllowProcessWorkloads = allow,
                AllowedCommands = ["/bin/sh"],
                StopGracePeriod = TimeSpan.FromSeconds(2),
            },
            TimeProvider.System,
            new XunitLogger<ProcessRuntime>(output));
        _runtimes.Add(runtime);
        await runtime.PrepareAsync(default);
        return runtime;
    }

    private static WorkloadAssignment Script(WorkloadKey key, string script) =>
        new(key.WorkloadId, 100 + key.WorkloadId, key.Epoch, new WorkloadSpec(
            $"w{key.WorkloadId}",
            WorkloadType.Process,
            new Capacity(1, 64 << 20, 0, 0),
            new ProcessSpec("/bin/sh", ["-c", script], ImmutableDictionary<string, string>.Empty)));
}
