using System.Collections.Immutable;
using Grid.Agent.Runtimes;
using Microsoft.Extensions.Logging;

namespace Grid.Agent.Reconciling;

/// <summary>The workload reports of one heartbeat, and how many of them are final (stops) to forget once delivered.</summary>
/// <param name="Reports">Every held workload, then the stops not yet delivered.</param>
/// <param name="Finals">Number of stop reports at the end of <paramref name="Reports"/>.</param>
/// <param name="LogOffsets">Per workload instance, the output offset reached by the logs the reports carry.</param>
internal sealed record ReportBatch(ImmutableArray<WorkloadReport> Reports, int Finals, ImmutableDictionary<WorkloadKey, long>? LogOffsets = null);

/// <summary>
/// Holds the agent's workloads and carries out the <see cref="Reconciler"/>'s plans and the <see cref="RestartPolicy"/>
/// through the runtime of each workload's type. A type without a runtime on this agent is modelled: reported
/// running. Used by the agent's loop only (one call at a time).
/// </summary>
/// <param name="runtimes">One runtime per workload type; disposed with this supervisor.</param>
/// <param name="policy">When exited workloads are restarted.</param>
/// <param name="time">Clock of starts and restarts.</param>
/// <param name="logger">Where starts, stops and exits are logged.</param>
internal sealed partial class WorkloadSupervisor(IEnumerable<IWorkloadRuntime> runtimes, RestartPolicy policy, TimeProvider time, ILogger logger)
    : IDisposable
{
    private readonly ILogger _logger = logger;
    private readonly Dictionary<WorkloadType, IWorkloadRuntime> _runtimes = runtimes.ToDictionary(r => r.Type);
    private readonly Dictionary<long, TrackedWorkload> _workloads = [];
    private readonly List<WorkloadReport> _finalReports = [];

    private readonly Dictionary<long, PendingStop> _stopping = [];
    private volatile TaskCompletionSource _startEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a start under way has finished since the last <see cref="SuperviseAsync"/>.</summary>
    public Task StartEnded => _startEnded.Task;

    /// <summary>The held workloads' reports, without the stops.</summary>
    public ImmutableArray<WorkloadReport> Snapshot() => [.. _workloads.Values.Select(w => w.ToReport())];

    /// <summary>
    /// What the next heartbeat carries: the held workloads (with their output since the last delivered report),
    /// then the stops the controller has not heard of.
    /// </summary>
    public ReportBatch Outgoing()
    {
        var offsets = ImmutableDictionary.CreateBuilder<WorkloadKey, long>();
        var reports = new List<WorkloadReport>();
        foreach (var workload in _workloads.Values)
        {
            var logs = workload.Runtime?.ReadLogs(workload.Key, workload.LogOffset);
            if (logs is not null)
            {
                offsets[workload.Key] = logs.Next;
            }

            reports.Add(workload.ToReport(logs?.Text));
        }

        return new([.. reports, .. _finalReports], _finalReports.Count, offsets.ToImmutable());
    }

    /// <summary>The controller received <paramref name="batch"/>: its stops and its logs need not be sent again.</summary>
    public void Delivered(ReportBatch batch)
    {
        _finalReports.RemoveRange(0, batch.Finals);
        foreach (var (key, offset) in batch.LogOffsets ?? ImmutableDictionary<WorkloadKey, long>.Empty)
        {
            if (_workloads.TryGetValue(key.WorkloadId, out var workload) && workload.Key == key)
            {
                workload.LogOffset = offset;
            }
        }
    }

    /// <summary>Number of workloads a runtime runs, starts or will restart.</summary>
    public int RunningCount => _workloads.Values.Count(w => w.Runs);

    /// <summary>Prepares every runtime, then takes over what a previous agent on this machine left running.</summary>
    public async Task AdoptAsync(CancellationToken cancellationToken)
    {
        foreach (var runtime in _runtimes.Values)
        {
            await runtime.PrepareAsync(cancellationToken);
        }

        foreach (var runtime in _runtimes.Values)
        {
            var plan = Reconciler.Adopt(await runtime.AdoptAsync(cancellationToken));
            foreach (var key in plan.Keep)
            {
                _workloads[key.WorkloadId] = new TrackedWorkload(key)
                {
                    Runtime = runtime,
                    Active = true,
                    State = WorkloadState.Running,
                    Message = "re-adopted after an agent restart",
                    StartedAt = time.GetUtcNow(),
                };
            }

            foreach (var older in plan.Stop)
            {
                await runtime.StopAsync(older, CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// Brings the held workloads to <paramref name="desired"/>; true when something started or stopped. A stopped workload
    /// with one of <paramref name="notices"/> (it was preempted) gets that notice between SIGTERM and the kill.
    /// </summary>
    public async Task<bool> ReconcileAsync(ImmutableArray<WorkloadAssignment> desired, ImmutableArray<StopNotice> notices = default)
    {
        var plan = Reconciler.Plan(desired, _workloads.Values.Select(w => new HeldWorkload(w.Key, w.Assignment is not null)));
        foreach (var notice in notices.IsDefault ? [] : notices)
        {
            if (_workloads.TryGetValue(notice.WorkloadId, out var noticed) && noticed.Key.Epoch == notice.Epoch)
            {
                noticed.StopGrace = TimeSpan.FromMilliseconds(Math.Max(0, notice.GraceMs));
            }
        }

        await StopAsync([.. plan.Stops.Select(s => (_workloads[s.Key.WorkloadId], s.Reason))], wait: false);
        foreach (var assignment in plan.Confirms)
        {
            _workloads[assignment.WorkloadId].Assignment = assignment;
        }

        foreach (var assignment in plan.Starts)
        {
            await StartAsync(assignment);
        }

        return plan.Changes;
    }

    /// <summary>
    /// Notices finished starts and ended instances, and restarts those whose backoff is over; true when a workload's
    /// state changed, so the controller hears of it at once (a container's start ends seconds after its heartbeat).
    /// </summary>
    public async Task<bool> SuperviseAsync()
    {
        if (_startEnded.Task.IsCompleted)
        {
            _startEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        var now = time.GetUtcNow();
        var changed = CollectStops();
        foreach (var workload in _workloads.Values)
        {
            if (workload.Starting is { Task.IsCompleted: true } started)
            {
                workload.Starting = null;
                started.Cancel.Dispose();
                Apply(workload, await started.Task);
                changed = true;
            }
            else if (workload is { Active: true, Runtime: { } runtime })
            {
                var status = await runtime.InspectAsync(workload.Key, CancellationToken.None);
                if (status.Condition != WorkloadCondition.Running)
                {
                    Apply(workload, status);
                    changed = true;
                }
                else
                {
                    // An adopted container tells its digest and endpoints on its first inspection.
                    workload.Digest = status.Digest ?? workload.Digest;
                    workload.Endpoints = status.Endpoints ?? workload.Endpoints;
                }
            }

            if (workload is { Active: false, Starting: null, RestartAt: { } due, Assignment: not null } && due <= now)
            {
                workload.Restarts++;
                await LaunchAsync(workload);
                changed = true;
            }
        }

        return changed;
    }

    /// <summary>Stops every workload a runtime runs, starts or will restart (self-fencing, shutdown); modelled ones stay.</summary>
    public Task StopRunningAsync(string reason) =>
        StopAsync([.. _workloads.Values.Where(w => w.Runs).Select(w => (w, reason))], wait: true);

    /// <summary>
    /// Lets go of the runtimes as a crash would: running instances keep running, for the next agent to adopt;
    /// starts still under way are called off.
    /// </summary>
    public void Dispose()
    {
        foreach (var pending in _workloads.Values.Select(w => w.Starting).OfType<PendingStart>())
        {
            pending.Cancel.Cancel();
        }

        foreach (var runtime in _runtimes.Values)
        {
            runtime.Dispose();
        }
    }

    private async Task StartAsync(WorkloadAssignment assignment)
    {
        // Another epoch of it is still being stopped here: it never runs twice at once, so the start waits for that.
        if (_stopping.TryGetValue(assignment.WorkloadId, out var stopping))
        {
            await stopping.Done;
            CollectStops();
        }

        var workload = new TrackedWorkload(new WorkloadKey(assignment.WorkloadId, assignment.Epoch)) { Assignment = assignment };
        _workloads[assignment.WorkloadId] = workload;
        var type = assignment.Spec.Type;
        if (!_runtimes.TryGetValue(type, out var runtime))
        {
            workload.State = WorkloadState.Running;
            workload.Message = $"{type.ToString().ToLowerInvariant()} is modelled: no runtime on this agent";
            LogModelled(assignment.WorkloadId, assignment.Epoch, type);
            return;
        }

        workload.Runtime = runtime;
        await LaunchAsync(workload);
    }

    /// <summary>Starts the workload; a start that does not finish at once is picked up by a later supervision turn.</summary>
    private async Task LaunchAsync(TrackedWorkload workload)
    {
        var cancel = new CancellationTokenSource();
        var start = workload.Runtime!.StartAsync(workload.Assignment!, cancel.Token);
        if (start.IsCompleted)
        {
            cancel.Dispose();
            Apply(workload, await start);
            return;
        }

        workload.Starting = new PendingStart(start, cancel);
        workload.State = WorkloadState.Deploying;
        workload.Message = "starting";

        // The agent's loop waits for this too: a finished start is taken up at once, not at the next supervision turn.
        _ = start.ContinueWith(_ => _startEnded.TrySetResult(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Apply(TrackedWorkload workload, WorkloadStatus status)
    {
        var now = time.GetUtcNow();
        var outcome = policy.Decide(status, workload.History, workload.Assignment?.Spec.Resources.Mru, now, workload.RestartPolicy);
        workload.State = outcome.State;
        workload.Message = outcome.Message;
        workload.Reason = outcome.Reason;
        workload.Digest = status.Digest ?? workload.Digest;
        workload.Endpoints = status.Condition == WorkloadCondition.Running ? status.Endpoints ?? workload.Endpoints : null;
        workload.RestartAt = outcome.RestartAt;
        workload.Backoff = outcome.Backoff;
        workload.Active = status.Condition == WorkloadCondition.Running;
        switch (status.Condition)
        {
            case WorkloadCondition.Running:
                workload.StartedAt = now;
                break;
            case WorkloadCondition.Refused or WorkloadCondition.OomKilled or WorkloadCondition.Unsupported:
                LogRefused(workload.Key.WorkloadId, workload.Key.Epoch, outcome.Message!);
                break;
            default:
                LogExited(workload.Key.WorkloadId, workload.Key.Epoch, status.ExitCode, workload.Restarts + 1, outcome.Backoff);
                break;
        }
    }

    /// <summary>
    /// Forgets <paramref name="stops"/> and stops their instances in the background (a container gets its grace
    /// period: seconds in which the loop must keep heartbeating, or it would fence itself); volumes go after the others
    /// of the same batch, which may still have them mounted. Each one's final report is queued once it is stopped (see
    /// <see cref="CollectStops"/>): "stopped" tells the controller it no longer runs here. With <paramref name="wait"/>
    /// (fencing, shutdown) it returns once every stop under way is done.
    /// </summary>
    private async Task StopAsync(IReadOnlyList<(TrackedWorkload Workload, string Reason)> stops, bool wait)
    {
        foreach (var (workload, _) in stops)
        {
            _workloads.Remove(workload.Key.WorkloadId);
        }

        var first = Task.WhenAll(stops.Where(s => !IsVolume(s.Workload)).Select(s => StopOneAsync(s.Workload, s.Reason)));
        foreach (var (workload, reason) in stops)
        {
            _stopping[workload.Key.WorkloadId] = new(workload, reason, IsVolume(workload) ? StopAfterAsync(first, workload, reason) : first);
        }

        if (wait)
        {
            await Task.WhenAll(_stopping.Values.Select(s => s.Done));
            CollectStops();
        }
    }

    /// <summary>Queues the final reports of the stops that are done; true when there were some.</summary>
    private bool CollectStops()
    {
        var done = _stopping.Values.Where(s => s.Done.IsCompleted).ToList();
        foreach (var stop in done)
        {
            _stopping.Remove(stop.Workload.Key.WorkloadId);
            _finalReports.Add(new WorkloadReport(stop.Workload.Key.WorkloadId, stop.Workload.Key.Epoch, WorkloadState.Stopped, stop.Workload.Restarts, stop.Reason));
        }

        return done.Count > 0;
    }

    private static bool IsVolume(TrackedWorkload workload) => workload.Runtime?.Type == WorkloadType.Volume;

    private async Task StopAfterAsync(Task before, TrackedWorkload workload, string reason)
    {
        await before;
        await StopOneAsync(workload, reason);
    }

    private async Task StopOneAsync(TrackedWorkload workload, string reason)
    {
        try
        {
            await StopInstanceAsync(workload);
            LogStopped(workload.Key.WorkloadId, workload.Key.Epoch, reason);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            LogStopFailed(workload.Key.WorkloadId, workload.Key.Epoch, e);
        }
    }

    private static async Task StopInstanceAsync(TrackedWorkload workload)
    {
        if (workload.Starting is { } pending)
        {
            // A start still under way is called off first; what it got running is then stopped like the rest.
            workload.Starting = null;
            await pending.Cancel.CancelAsync();
            try
            {
                workload.Active = (await pending.Task).Condition == WorkloadCondition.Running;
            }
            catch (OperationCanceledException)
            {
                workload.Active = false;
            }
            finally
            {
                pending.Cancel.Dispose();
            }
        }

        // Also for an instance that ended by itself: the runtime lets go of what it kept of it (its output).
        if (workload.Runtime is { } runtime)
        {
            await (workload.StopGrace is { } grace
                ? runtime.StopAsync(workload.Key, grace, CancellationToken.None)
                : runtime.StopAsync(workload.Key, CancellationToken.None));
            workload.Active = false;
        }
    }
}
