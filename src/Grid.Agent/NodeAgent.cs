using System.Collections.Immutable;
using System.ComponentModel;
using Grid.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Grid.Agent;

/// <summary>
/// The node agent: heartbeats to the controller and reconciles the workloads it answers with (pull model).
/// <c>process</c> workloads run as child processes under <c>&lt;workdir&gt;/workloads/&lt;id&gt;-e&lt;epoch&gt;/</c>,
/// restarted with exponential backoff when they exit; workloads no longer desired or at a stale epoch are
/// stopped; other types are modelled and reported running. PIDs are remembered in <see cref="PidFile"/> so an
/// agent restarted after a crash re-adopts its orphans and keeps or stops them as the controller says.
/// </summary>
/// <param name="options">Settings; validated when <see cref="RunAsync"/> starts.</param>
/// <param name="logger">Optional logger.</param>
/// <param name="timeProvider">Clock for intervals, backoff and self-fencing; defaults to the system clock.</param>
public sealed partial class NodeAgent(AgentOptions options, ILogger<NodeAgent>? logger = null, TimeProvider? timeProvider = null)
    : IAsyncDisposable
{
    private const string NotAllowed = "this agent does not allow process workloads (start it with --allow-process-workloads)";
    private static readonly TimeSpan MinRequestTime = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MinLatencyMargin = TimeSpan.FromMilliseconds(250);

    private readonly ILogger _logger = logger ?? NullLogger<NodeAgent>.Instance;
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly HttpClient _http = GridApiClient.CreateHttpClient(options.ApiUrl, options.RequestTimeout);
    private readonly Dictionary<long, WorkloadRuntime> _workloads = [];
    private readonly List<WorkloadReport> _finalReports = [];
    private CgroupLimits? _limits;
    private WorkloadUser? _user;
    private string? _sandboxRefusal;
    private readonly CancellationTokenSource _abandon = new();
    private readonly TaskCompletionSource _loopEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ImmutableArray<WorkloadReport> _snapshot = [];
    private DateTimeOffset _startedAt;
    private DateTimeOffset _lastContact;
    private bool _fenced;
    private TimeSpan _interval = options.HeartbeatInterval;
    private TimeSpan? _fenceAfter = options.StopOnDisconnectAfter;
    private long _desiredVersion = -1;
    private volatile TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _beatNow;
    private bool? _draining;
    private int _started;
    private int _disposed;

    /// <summary>What the agent reported (or will report) about its workloads, as of its last loop turn.</summary>
    public ImmutableArray<WorkloadReport> Workloads => _snapshot;

    /// <summary>
    /// Heartbeats and reconciles until <paramref name="cancellationToken"/> is cancelled (SIGTERM, Ctrl-C), then
    /// stops every workload process cleanly. Ending through <see cref="DisposeAsync"/> instead leaves them running.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        options.Validate();
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            throw new InvalidOperationException("The agent is already running.");
        }

        var api = new GridApiClient(_http);
        using var loop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _abandon.Token);
        try
        {
            _startedAt = _lastContact = _time.GetUtcNow();
            LogStarting(options.NodeId, options.ApiUrl, options.WorkDir, options.AllowProcessWorkloads ? "allowed" : "refused");
            PrepareSandbox();
            await AdoptOrphansAsync();
            var watch = options.WatchDesired ? WatchDesiredAsync(api, loop.Token) : Task.CompletedTask;
            var nextHeartbeat = _startedAt;
            while (!loop.IsCancellationRequested)
            {
                Supervise();
                if (_time.GetUtcNow() >= nextHeartbeat || _beatNow)
                {
                    _beatNow = false;
                    nextHeartbeat = _time.GetUtcNow() + _interval;
                    await HeartbeatAsync(api, loop.Token);
                }

                await FenceIfDisconnectedAsync();
                _snapshot = [.. _workloads.Values.Select(w => w.ToReport())];
                if (_beatNow)
                {
                    // What was just started or stopped is reported at once, not one interval later.
                    continue;
                }

                var untilHeartbeat = nextHeartbeat - _time.GetUtcNow();
                var wait = untilHeartbeat < options.SupervisionInterval ? untilHeartbeat : options.SupervisionInterval;
                var wake = _wake.Task;
                await Task.WhenAny(Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, _time, loop.Token), wake);
                if (wake.IsCompleted)
                {
                    // The long-poll saw the desired workloads change: the heartbeat's answer brings them now.
                    _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
                    _beatNow = true;
                }
            }

            await watch;
        }
        catch (OperationCanceledException) when (loop.IsCancellationRequested)
        {
            // Normal end of the loop.
        }
        finally
        {
            if (!_abandon.IsCancellationRequested)
            {
                await StopAsync([.. _workloads.Values.Where(w => w.RunsProcess)], _ => "the agent is shutting down");
            }

            _snapshot = [.. _workloads.Values.Select(w => w.ToReport())];
            _loopEnded.TrySetResult();
        }
    }

    /// <summary>
    /// Ends the loop as a crash would: workload processes keep running and stay in the PID file for the next
    /// agent on this work directory to re-adopt. Cancel the token given to <see cref="RunAsync"/> for a clean stop.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _abandon.CancelAsync();
        if (Volatile.Read(ref _started) == 1)
        {
            await _loopEnded.Task;
        }

        foreach (var workload in _workloads.Values)
        {
            workload.Process?.Dispose();
        }

        _http.Dispose();
        _abandon.Dispose();
    }

    private async Task HeartbeatAsync(GridApiClient api, CancellationToken cancellationToken)
    {
        var reports = _workloads.Values.Select(w => w.ToReport()).Concat(_finalReports).ToImmutableArray();
        var sentFinal = _finalReports.Count;
        var sentAt = _time.GetUtcNow();
        var uptime = (long)(sentAt - _startedAt).TotalSeconds;
        HeartbeatResponse response;

        // A request into a cut link must not outlast the fencing deadline: the fence is checked between requests.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (_fenceAfter is { } fence && !_fenced)
        {
            var left = _lastContact + fence - sentAt;
            deadline.CancelAfter(left > MinRequestTime ? left : MinRequestTime);
        }

        try
        {
            response = await api.HeartbeatAsync(options.NodeId, options.NodeKey, new Heartbeat(uptime, reports), deadline.Token, options.SigningKey);
        }
        catch (HttpRequestException e)
        {
            LogUnreachable(e.Message);
            return;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            LogUnreachable($"no answer within {options.RequestTimeout}");
            return;
        }
        catch (GridApiException e)
        {
            // A rejected heartbeat (wrong key, unknown node) is no contact either: fencing still applies.
            LogRejected(e.Status, e.Message);
            return;
        }

        var now = _time.GetUtcNow();
        if (_fenced)
        {
            LogReconnected(now - _lastContact);
            _fenced = false;
        }

        // Counted from the send: the controller saw this heartbeat no earlier, so its timeout runs from no earlier.
        _lastContact = sentAt;
        FollowController(response, now - sentAt);
        Interlocked.Exchange(ref _desiredVersion, response.DesiredVersion);
        _finalReports.RemoveRange(0, sentFinal);
        if (_draining != response.Draining)
        {
            _draining = response.Draining;
            LogDraining(options.NodeId, response.Draining);
        }

        try
        {
            await ReconcileAsync(response.Desired.IsDefault ? [] : response.Desired);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogReconcileFailed(e);
        }
    }

    /// <summary>
    /// Takes the controller's heartbeat interval and fences before its timeout can pass: the timeout minus one
    /// interval (a heartbeat may be missed just before the cut) and the request latency — unless the operator chose.
    /// </summary>
    private void FollowController(HeartbeatResponse response, TimeSpan latency)
    {
        if (response.HeartbeatIntervalMs > 0 && !options.HeartbeatIntervalGiven)
        {
            _interval = TimeSpan.FromMilliseconds(response.HeartbeatIntervalMs);
        }

        if (response.HeartbeatTimeoutMs > 0 && !options.StopOnDisconnectAfterGiven)
        {
            var timeout = TimeSpan.FromMilliseconds(response.HeartbeatTimeoutMs);
            var margin = latency * 2 > MinLatencyMargin ? latency * 2 : MinLatencyMargin;
            var fence = timeout - _interval - (margin < options.RequestTimeout ? margin : options.RequestTimeout);
            _fenceAfter = fence > timeout / 4 ? fence : timeout / 4;
        }
    }

    /// <summary>
    /// Long-polls the controller for changes of the desired workloads and wakes the loop when they change; the
    /// heartbeat stays the liveness signal and brings the workloads themselves.
    /// </summary>
    private async Task WatchDesiredAsync(GridApiClient api, CancellationToken cancellationToken)
    {
        var wait = options.RequestTimeout - TimeSpan.FromSeconds(1);
        wait = wait > TimeSpan.FromMilliseconds(500) ? wait : options.RequestTimeout / 2;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var known = Interlocked.Read(ref _desiredVersion);
                var answer = await api.WatchDesiredAsync(options.NodeId, options.NodeKey, known, wait, cancellationToken, options.SigningKey);
                if (Interlocked.CompareExchange(ref _desiredVersion, answer.Version, known) == known && answer.Version != known)
                {
                    _wake.TrySetResult();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or GridApiException or System.Text.Json.JsonException)
            {
                // An older controller without the long-poll, or no contact: heartbeats carry on alone; try again later.
                try
                {
                    await Task.Delay(_interval, _time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Stops what is not desired or runs at another epoch, then starts what is desired and missing.</summary>
    private async Task ReconcileAsync(ImmutableArray<WorkloadAssignment> desired)
    {
        var wanted = desired.GroupBy(a => a.WorkloadId).ToDictionary(g => g.Key, g => g.MaxBy(a => a.Epoch)!);
        var unwanted = _workloads.Values
            .Where(w => !wanted.TryGetValue(w.WorkloadId, out var a) || a.Epoch != w.Epoch)
            .ToList();
        _beatNow |= unwanted.Count > 0 || wanted.Keys.Any(id => !_workloads.ContainsKey(id));
        await StopAsync(unwanted, w => wanted.TryGetValue(w.WorkloadId, out var a)
            ? $"stale epoch {w.Epoch}: the controller placed epoch {a.Epoch}"
            : "no longer desired by the controller");

        foreach (var assignment in wanted.Values)
        {
            if (_workloads.TryGetValue(assignment.WorkloadId, out var held))
            {
                // A re-adopted orphan learns its spec here, so it can be restarted if it exits later.
                held.Assignment ??= assignment;
                continue;
            }

            Start(assignment);
        }

        SavePids();
    }

    private void Start(WorkloadAssignment assignment)
    {
        var workload = new WorkloadRuntime(assignment.WorkloadId, assignment.Epoch) { Assignment = assignment };
        _workloads[assignment.WorkloadId] = workload;
        var spec = assignment.Spec;
        if (spec.Type != WorkloadType.Process)
        {
            workload.State = WorkloadState.Running;
            workload.Message = $"{spec.Type.ToString().ToLowerInvariant()} is modelled: no runtime on this agent";
            LogModelled(workload.WorkloadId, workload.Epoch, spec.Type);
            return;
        }

        var refusal = !options.AllowProcessWorkloads ? NotAllowed
            : string.IsNullOrWhiteSpace(spec.Process?.Command) ? "the process workload has no command"
            : options.AllowedCommands.Count > 0 && !options.AllowedCommands.Contains(spec.Process.Command)
                ? $"the command '{spec.Process.Command}' is not on this farm's allow-list"
            : _sandboxRefusal;
        if (refusal is not null)
        {
            workload.State = WorkloadState.Failed;
            workload.Message = refusal;
            LogRefused(workload.WorkloadId, workload.Epoch, refusal);
            return;
        }

        Launch(workload);
    }

    private void Launch(WorkloadRuntime workload)
    {
        var folder = Path.Combine(options.WorkDir, "workloads", $"{workload.WorkloadId}-e{workload.Epoch}");
        try
        {
            var spec = workload.Assignment!.Spec;
            var cgroups = _limits is { Unavailable: null } limits ? limits.Create(CgroupName(workload), spec.Resources.Cru, spec.Resources.Mru) : [];
            workload.Process = WorkloadProcess.Start(workload.WorkloadId, workload.Epoch, spec.Process!, folder, new WorkloadSandbox(_user, cgroups));
            workload.State = WorkloadState.Running;
            workload.Message = null;
            workload.StartedAt = _time.GetUtcNow();
            workload.RestartAt = null;
            LogStarted(workload.WorkloadId, workload.Epoch, workload.Process.Entry.Pid);
        }
        catch (Exception e) when (e is Win32Exception or IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            LogStartFailed(workload.WorkloadId, workload.Epoch, e.Message);
            ScheduleRestart(workload, $"could not start: {e.Message}", null);
        }
    }

    // Named by node too: two agents on one machine (or tests) must never share a workload's cgroup.
    private string CgroupName(WorkloadRuntime workload) => $"n{options.NodeId}-w{workload.WorkloadId}-e{workload.Epoch}";

    /// <summary>Finds the cgroups and the workload user before any process workload starts; says clearly what is missing.</summary>
    private void PrepareSandbox()
    {
        if (!options.AllowProcessWorkloads)
        {
            return;
        }

        _limits = CgroupLimits.Detect();
        try
        {
            _user = WorkloadUser.Resolve(options.WorkloadUser);
            if (_user is not null && !OperatingSystem.IsWindows())
            {
                OpenPathTo(Path.Combine(options.WorkDir, "workloads"));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or Win32Exception)
        {
            _sandboxRefusal = $"no unprivileged workload user: {e.Message}";
            LogSandboxFailed(_sandboxRefusal);
            return;
        }

        if (_limits.Unavailable is { } why)
        {
            LogLimitsUnavailable(why);
            _sandboxRefusal = options.RequireResourceLimits ? $"resource limits are required but unavailable: {why}" : null;
        }
        else
        {
            LogSandbox(_user?.Name ?? Environment.UserName, _limits.Describe());
        }
    }

    /// <summary>Lets the workload user traverse (not list) the folders above its own, which root may have made 0700.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void OpenPathTo(string folder)
    {
        Directory.CreateDirectory(folder);
        for (var dir = new DirectoryInfo(folder); dir is not null && dir.Parent is not null; dir = dir.Parent)
        {
            var mode = File.GetUnixFileMode(dir.FullName);
            if (!mode.HasFlag(UnixFileMode.OtherExecute))
            {
                File.SetUnixFileMode(dir.FullName, mode | UnixFileMode.OtherExecute);
            }
        }
    }

    /// <summary>Notices exited processes and restarts those whose backoff is over.</summary>
    private void Supervise()
    {
        var changed = false;
        var now = _time.GetUtcNow();
        foreach (var workload in _workloads.Values)
        {
            if (workload.Process is { HasExited: true } exited)
            {
                var code = exited.ExitCode;
                exited.Dispose();
                workload.Process = null;
                changed = true;
                if (_limits is { Unavailable: null } limits && limits.WasOomKilled(CgroupName(workload)))
                {
                    // Restarting would only hit the limit again: the tenant must reserve more memory.
                    workload.State = WorkloadState.Failed;
                    workload.Message = $"stopped by its memory limit: used more than the {workload.Assignment?.Spec.Resources.Mru} bytes reserved (killed by the kernel)";
                    workload.RestartAt = null;
                    limits.Remove(CgroupName(workload));
                    LogRefused(workload.WorkloadId, workload.Epoch, workload.Message);
                    continue;
                }

                _limits?.Remove(CgroupName(workload));
                ScheduleRestart(workload, code is null ? "exited" : $"exited with code {code}", code);
            }

            if (workload is { Process: null, RestartAt: { } due, Assignment: not null } && due <= now)
            {
                workload.Restarts++;
                Launch(workload);
                changed = true;
            }
        }

        if (changed)
        {
            SavePids();
        }
    }

    private void ScheduleRestart(WorkloadRuntime workload, string what, int? exitCode)
    {
        var ranLong = _time.GetUtcNow() - workload.StartedAt >= options.RestartBackoffMax;
        var doubled = workload.Backoff * 2;
        workload.Backoff = workload.Backoff == TimeSpan.Zero || ranLong ? options.RestartBackoffInitial
            : doubled < options.RestartBackoffMax ? doubled : options.RestartBackoffMax;
        workload.RestartAt = _time.GetUtcNow() + workload.Backoff;
        workload.State = WorkloadState.Failed;
        workload.Message = $"{what}; restart {workload.Restarts + 1} in {workload.Backoff.TotalSeconds:0.###}s";
        LogExited(workload.WorkloadId, workload.Epoch, exitCode, workload.Restarts + 1, workload.Backoff);
    }

    /// <summary>Stops the process workloads once the controller has been silent too long (it has moved them).</summary>
    private async Task FenceIfDisconnectedAsync()
    {
        if (_fenceAfter is not { } limit || _fenced)
        {
            return;
        }

        var silence = _time.GetUtcNow() - _lastContact;
        if (silence <= limit)
        {
            return;
        }

        _fenced = true;
        var running = _workloads.Values.Where(w => w.RunsProcess).ToList();
        LogFencing(silence, running.Count);
        await StopAsync(running, _ => $"self-fenced: controller unreachable for {silence.TotalSeconds:0.#}s");
    }

    /// <summary>Forgets <paramref name="workloads"/>, stops their processes in parallel and queues a final report for each.</summary>
    private async Task StopAsync(IReadOnlyList<WorkloadRuntime> workloads, Func<WorkloadRuntime, string> reason)
    {
        if (workloads.Count == 0)
        {
            return;
        }

        foreach (var workload in workloads)
        {
            _workloads.Remove(workload.WorkloadId);
            _finalReports.Add(new WorkloadReport(workload.WorkloadId, workload.Epoch, WorkloadState.Stopped, workload.Restarts, reason(workload)));
        }

        await Task.WhenAll(workloads.Select(w => w.Process?.StopAsync(options.StopGracePeriod, _time) ?? Task.CompletedTask));
        foreach (var workload in workloads)
        {
            workload.Process?.Dispose();
            LogStopped(workload.WorkloadId, workload.Epoch, reason(workload));
        }

        // Written after the processes are gone: a crash mid-stop leaves them listed, to be re-adopted and stopped.
        SavePids();
    }

    /// <summary>Takes over processes a previous agent on this work directory left running.</summary>
    private async Task AdoptOrphansAsync()
    {
        var duplicates = new List<WorkloadRuntime>();
        foreach (var entry in PidFile.Load(options.WorkDir).OrderBy(e => e.Epoch))
        {
            if (WorkloadProcess.Adopt(entry) is not { } process)
            {
                LogOrphanGone(entry.Pid, entry.WorkloadId);
                continue;
            }

            var workload = new WorkloadRuntime(entry.WorkloadId, entry.Epoch)
            {
                Process = process,
                State = WorkloadState.Running,
                Message = "re-adopted after an agent restart",
                StartedAt = _time.GetUtcNow(),
            };
            if (_workloads.Remove(entry.WorkloadId, out var older))
            {
                duplicates.Add(older);
            }

            _workloads[entry.WorkloadId] = workload;
            LogAdopted(entry.Pid, entry.WorkloadId, entry.Epoch);
        }

        // Only one epoch of a workload may run here: the older copies go at once.
        foreach (var older in duplicates)
        {
            await (older.Process?.StopAsync(options.StopGracePeriod, _time) ?? Task.CompletedTask);
            older.Process?.Dispose();
        }

        SavePids();
    }

    private void SavePids() =>
        PidFile.Save(options.WorkDir, _workloads.Values.Where(w => w.Process is not null).Select(w => w.Process!.Entry));
}
