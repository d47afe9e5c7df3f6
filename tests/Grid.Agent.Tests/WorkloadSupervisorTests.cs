using System.Collections.Immutable;
using Grid.Agent.Reconciling;
using Grid.Agent.Runtimes;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.Agent.Tests;

/// <summary>
/// The supervisor with a runtime whose starts take as long as the test says (as an image pull would): the agent's
/// loop is never held by a start, a stop calls a start off, exits are restarted by the policy, and types without
/// a runtime are only modelled.
/// </summary>
public sealed class WorkloadSupervisorTests(ITestOutputHelper output) : IDisposable
{
    // A supervisor that waited for a start would never return here: the test fails instead of hanging.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    private readonly SlowRuntime _runtime = new();
    private WorkloadSupervisor? _supervisor;

    private WorkloadSupervisor Supervisor => _supervisor ??= new WorkloadSupervisor(
        [_runtime],
        new RestartPolicy(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(4)),
        TimeProvider.System,
        new XunitLogger<WorkloadSupervisor>(output));

    public void Dispose() => _supervisor?.Dispose();

    [Fact]
    public async Task ALongStartDoesNotHoldTheLoopAndIsPickedUpWhenItEnds()
    {
        var changed = await Supervisor.ReconcileAsync([Vm(1, 1)]).WaitAsync(Patience);

        Assert.True(changed);
        Assert.Equal(new WorkloadReport(1, 1, WorkloadState.Deploying, 0, "starting"), Assert.Single(Supervisor.Snapshot()));
        Assert.Equal(1, Supervisor.RunningCount);
        await Supervisor.SuperviseAsync();
        Assert.Equal(WorkloadState.Deploying, Assert.Single(Supervisor.Snapshot()).State);

        _runtime.FinishStarts(WorkloadStatus.Running);
        await Poll.UntilAsync(() => Supervise().State == WorkloadState.Running, TimeSpan.FromSeconds(10), "the finished start is reported running");
        Assert.Null(Assert.Single(Supervisor.Snapshot()).Message);
        Assert.False(await Supervisor.ReconcileAsync([Vm(1, 1)]), "nothing to change once it runs");
    }

    [Fact]
    public async Task AWorkloadStoppedWhileStartingHasItsStartCalledOffAndIsReportedStopped()
    {
        await Supervisor.ReconcileAsync([Vm(2, 1)]).WaitAsync(Patience);
        var started = Assert.Single(_runtime.Starts);

        await Supervisor.ReconcileAsync([Vm(2, 2)]).WaitAsync(Patience);

        Assert.True(started.Cancelled.IsCancellationRequested, "the epoch 1 start is called off");
        Assert.Empty(_runtime.Running);
        var batch = Supervisor.Outgoing();
        Assert.Equal(1, batch.Finals);
        Assert.Equal<WorkloadReport>(
            [new WorkloadReport(2, 2, WorkloadState.Deploying, 0, "starting"), new WorkloadReport(2, 1, WorkloadState.Stopped, 0, "stale epoch 1: the controller placed epoch 2")],
            batch.Reports);
        Supervisor.Delivered(batch);
        Assert.Equal(0, Supervisor.Outgoing().Finals);
    }

    [Fact]
    public async Task AnExitedWorkloadIsRestartedByThePolicyAndItsRestartsCounted()
    {
        _runtime.FinishStarts(WorkloadStatus.Running);
        await Supervisor.ReconcileAsync([Vm(3, 1)]);
        Assert.Equal(WorkloadState.Running, Supervise().State);

        _runtime.Exit(new WorkloadKey(3, 1), 7);
        await Poll.UntilAsync(() => Supervise() is { State: WorkloadState.Running, Restarts: 1 }, TimeSpan.FromSeconds(10), "the workload is restarted once");
        Assert.Equal(2, _runtime.Starts.Count);
    }

    [Fact]
    public async Task TypesWithoutARuntimeAreModelledAndOutliveSelfFencing()
    {
        _runtime.FinishStarts(WorkloadStatus.Running);
        var gateway = new WorkloadAssignment(4, 104, 1, new WorkloadSpec("gw", WorkloadType.Gateway, new Capacity(0, 0, 0, 0), null));
        await Supervisor.ReconcileAsync([Vm(5, 1), gateway]);
        Assert.Contains(new WorkloadReport(4, 1, WorkloadState.Running, 0, "gateway is modelled: no runtime on this agent"), Supervisor.Snapshot());
        Assert.Equal(1, Supervisor.RunningCount);

        await Supervisor.StopRunningAsync("self-fenced");

        Assert.Empty(_runtime.Running);
        Assert.Equal(4, Assert.Single(Supervisor.Snapshot()).WorkloadId);
        Assert.Contains(new WorkloadReport(5, 1, WorkloadState.Stopped, 0, "self-fenced"), Supervisor.Outgoing().Reports);
    }

    [Fact]
    public async Task ASlowStopDoesNotHoldTheLoopAndVolumesStopAfterTheContainersThatMountThem()
    {
        var volumes = new SlowRuntime(WorkloadType.Volume, _runtime.Stopped);
        using var supervisor = new WorkloadSupervisor(
            [_runtime, volumes], new RestartPolicy(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(4)), TimeProvider.System,
            new XunitLogger<WorkloadSupervisor>(output));
        _runtime.FinishStarts(WorkloadStatus.Running);
        volumes.FinishStarts(WorkloadStatus.Running);
        var volume = new WorkloadAssignment(7, 106, 1, new WorkloadSpec("data", WorkloadType.Volume, new Capacity(0, 0, 1 << 20, 0), null));
        await supervisor.ReconcileAsync([Vm(6, 1), volume]);
        _runtime.StopGate = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // The reservation goes: the loop gets its turn back while the stop waits (it keeps heartbeating, no fencing).
        // Neither is reported stopped while it may still run.
        Assert.True(await supervisor.ReconcileAsync([]).WaitAsync(Patience));
        await supervisor.SuperviseAsync().WaitAsync(Patience);
        Assert.Empty(_runtime.Stopped);
        Assert.Contains(new WorkloadKey(7, 1), volumes.Running);
        Assert.Equal(0, supervisor.Outgoing().Finals);

        // Once the container is gone, its volume goes; shutdown waits for both; then both are reported stopped.
        _runtime.StopGate.SetResult();
        await supervisor.StopRunningAsync("the agent is shutting down").WaitAsync(Patience);
        Assert.Equal([new WorkloadKey(6, 1), new WorkloadKey(7, 1)], _runtime.Stopped);
        Assert.Equal(2, supervisor.Outgoing().Finals);
    }

    private WorkloadReport Supervise()
    {
        Supervisor.SuperviseAsync().GetAwaiter().GetResult();
        return Supervisor.Snapshot().Single(r => r.WorkloadId != 4);
    }

    private static WorkloadAssignment Vm(long workloadId, long epoch) =>
        new(workloadId, 100 + workloadId, epoch, new WorkloadSpec($"vm{workloadId}", WorkloadType.Vm, new Capacity(1, 1 << 30, 0, 0), null));

    /// <summary>
    /// A runtime of <c>vm</c> workloads, in memory: its starts wait until the test finishes them (or, once
    /// <see cref="FinishStarts"/> was called, finish at once), as a container runtime's would during an image pull.
    /// </summary>
    private sealed class SlowRuntime(WorkloadType type = WorkloadType.Vm, List<WorkloadKey>? stopped = null) : IWorkloadRuntime
    {
        private readonly TaskCompletionSource<WorkloadStatus> _finish = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Dictionary<WorkloadKey, int?> _exits = [];

        public WorkloadType Type => type;

        /// <summary>When set, stops wait for it (a container's grace period).</summary>
        public TaskCompletionSource? StopGate { get; set; }

        /// <summary>Stops in the order they finished (shared between runtimes).</summary>
        public List<WorkloadKey> Stopped { get; } = stopped ?? [];

        public List<(WorkloadKey Key, CancellationToken Cancelled)> Starts { get; } = [];

        public HashSet<WorkloadKey> Running { get; } = [];

        public void FinishStarts(WorkloadStatus status) => _finish.TrySetResult(status);

        public void Exit(WorkloadKey key, int code)
        {
            Running.Remove(key);
            _exits[key] = code;
        }

        public Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IReadOnlyList<WorkloadKey>> AdoptAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<WorkloadKey>>([]);

        public async Task<WorkloadStatus> StartAsync(WorkloadAssignment assignment, CancellationToken cancellationToken)
        {
            var key = new WorkloadKey(assignment.WorkloadId, assignment.Epoch);
            Starts.Add((key, cancellationToken));
            var status = _finish.Task.IsCompleted ? _finish.Task.Result : await _finish.Task.WaitAsync(cancellationToken);
            if (status.Condition == WorkloadCondition.Running)
            {
                Running.Add(key);
            }

            return status;
        }

        public Task<WorkloadStatus> InspectAsync(WorkloadKey key, CancellationToken cancellationToken) =>
            Task.FromResult(Running.Contains(key) ? WorkloadStatus.Running : new WorkloadStatus(WorkloadCondition.Exited, ExitCode: _exits.GetValueOrDefault(key)));

        public async Task StopAsync(WorkloadKey key, CancellationToken cancellationToken)
        {
            if (StopGate is { } gate)
            {
                await gate.Task;
            }

            lock (Stopped)
            {
                Running.Remove(key);
                Stopped.Add(key);
            }
        }

        public void Dispose()
        {
        }
    }
}
