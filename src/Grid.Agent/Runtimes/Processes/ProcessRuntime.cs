using System.ComponentModel;
using Microsoft.Extensions.Logging;

namespace Grid.Agent.Runtimes.Processes;

/// <summary>
/// Runs <c>process</c> workloads as child processes under <c>&lt;workdir&gt;/workloads/&lt;id&gt;-e&lt;epoch&gt;/</c>, as the
/// unprivileged workload user and held to their reservation by cgroups when the machine allows it. Every
/// process it holds is remembered in <see cref="PidFile"/>, so an agent restarted after a crash re-adopts them.
/// </summary>
/// <param name="options">The agent's settings: work directory, node id, what is allowed, the stop grace period.</param>
/// <param name="time">Clock of the stop grace period.</param>
/// <param name="logger">Where starts, adoptions and the sandbox's state are logged.</param>
internal sealed partial class ProcessRuntime(AgentOptions options, TimeProvider time, ILogger logger) : IWorkloadRuntime
{
    private const string NotAllowed = "this agent does not allow process workloads (start it with --allow-process-workloads)";

    // Touched by the loop and by stops running in parallel: every access and each PID file write holds the gate.
    private readonly Lock _gate = new();
    private readonly ILogger _logger = logger;
    private readonly Dictionary<WorkloadKey, WorkloadProcess> _processes = [];
    private CgroupLimits? _limits;
    private WorkloadUser? _user;
    private string? _sandboxRefusal;

    /// <inheritdoc/>
    public WorkloadType Type => WorkloadType.Process;

    /// <summary>Finds the cgroups and the workload user before any process workload starts; says clearly what is missing.</summary>
    public Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (!options.AllowProcessWorkloads)
        {
            return Task.CompletedTask;
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
            LogSandboxFailed(_sandboxRefusal, e);
            return Task.CompletedTask;
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

        return Task.CompletedTask;
    }

    /// <summary>Takes over the processes of the PID file that still run; forgets the ones that are gone.</summary>
    public Task<IReadOnlyList<WorkloadKey>> AdoptAsync(CancellationToken cancellationToken)
    {
        var adopted = new List<WorkloadKey>();
        foreach (var entry in PidFile.Load(options.WorkDir).OrderBy(e => e.Epoch))
        {
            if (WorkloadProcess.Adopt(entry) is not { } process)
            {
                LogOrphanGone(entry.Pid, entry.WorkloadId);
                continue;
            }

            var key = new WorkloadKey(entry.WorkloadId, entry.Epoch);
            lock (_gate)
            {
                _processes[key] = process;
            }

            adopted.Add(key);
            LogAdopted(entry.Pid, entry.WorkloadId, entry.Epoch);
        }

        SavePids();
        return Task.FromResult<IReadOnlyList<WorkloadKey>>(adopted);
    }

    /// <summary>Starts the workload's command, unless this agent or its sandbox refuses it.</summary>
    public Task<WorkloadStatus> StartAsync(WorkloadAssignment assignment, CancellationToken cancellationToken)
    {
        var key = new WorkloadKey(assignment.WorkloadId, assignment.Epoch);
        var spec = assignment.Spec;
        var refusal = !options.AllowProcessWorkloads ? NotAllowed
            : string.IsNullOrWhiteSpace(spec.Process?.Command) ? "the process workload has no command"
            : options.AllowedCommands.Count > 0 && !options.AllowedCommands.Contains(spec.Process.Command)
                ? $"the command '{spec.Process.Command}' is not on this farm's allow-list"
            : _sandboxRefusal;
        if (refusal is not null)
        {
            return Task.FromResult(new WorkloadStatus(WorkloadCondition.Refused, refusal));
        }

        var folder = Path.Combine(options.WorkDir, "workloads", key.ToString());
        WorkloadProcess process;
        try
        {
            var cgroup = CgroupName(key);
            var cgroups = _limits is { Unavailable: null } limits ? limits.Create(cgroup, spec.Resources.Cru, spec.Resources.Mru) : [];
            process = WorkloadProcess.Start(key.WorkloadId, key.Epoch, WithGpus(spec.Process!, assignment), folder, new WorkloadSandbox(_user, cgroups, cgroup));
        }
        catch (Exception e) when (e is Win32Exception or IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            LogStartFailed(key.WorkloadId, key.Epoch, e);
            return Task.FromResult(new WorkloadStatus(WorkloadCondition.StartFailed, e.Message));
        }

        lock (_gate)
        {
            _processes[key] = process;
        }

        // Remembered at once: an agent crashing right after this start re-adopts the process instead of starting another.
        SavePids();
        LogStarted(key.WorkloadId, key.Epoch, process.Entry.Pid);
        return Task.FromResult(WorkloadStatus.Running);
    }

    /// <summary>Running while the process lives; once it is gone, how it ended (its exit code, or killed by its memory limit).</summary>
    public Task<WorkloadStatus> InspectAsync(WorkloadKey key, CancellationToken cancellationToken)
    {
        WorkloadProcess? process;
        lock (_gate)
        {
            process = _processes.GetValueOrDefault(key);
        }

        if (process is null)
        {
            return Task.FromResult(new WorkloadStatus(WorkloadCondition.Exited));
        }

        if (!process.HasExited)
        {
            return Task.FromResult(WorkloadStatus.Running);
        }

        var code = process.ExitCode;
        Forget(key, process);

        // The memory limit is read before its cgroup goes (named as when it started: an agent before 0.5.0 left no name).
        var cgroup = process.Entry.Cgroup ?? $"n{options.NodeId}-w{key.WorkloadId}-e{key.Epoch}";
        var oomKilled = _limits is { Unavailable: null } limits && limits.WasOomKilled(cgroup);
        _limits?.Remove(cgroup);
        return Task.FromResult(oomKilled ? new WorkloadStatus(WorkloadCondition.OomKilled) : new WorkloadStatus(WorkloadCondition.Exited, ExitCode: code));
    }

    /// <summary>SIGTERM, then SIGKILL once the grace period has passed; the PID file forgets the process once it is gone.</summary>
    public Task StopAsync(WorkloadKey key, CancellationToken cancellationToken) => StopAsync(key, options.StopGracePeriod, cancellationToken);

    /// <summary>SIGTERM, then SIGKILL once <paramref name="grace"/> has passed; the PID file forgets the process once it is gone.</summary>
    public async Task StopAsync(WorkloadKey key, TimeSpan grace, CancellationToken cancellationToken)
    {
        WorkloadProcess? process;
        lock (_gate)
        {
            process = _processes.GetValueOrDefault(key);
        }

        if (process is null)
        {
            return;
        }

        await process.StopAsync(grace, time);

        // Written after the process is gone: a crash mid-stop leaves it listed, to be re-adopted and stopped.
        Forget(key, process);
    }

    /// <summary>Releases the handles only: the processes keep running, listed in the PID file for the next agent.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var process in _processes.Values)
            {
                process.Dispose();
            }

            _processes.Clear();
        }
    }

    private void Forget(WorkloadKey key, WorkloadProcess process)
    {
        process.Dispose();
        lock (_gate)
        {
            _processes.Remove(key);
        }

        SavePids();
    }

    private void SavePids()
    {
        lock (_gate)
        {
            PidFile.Save(options.WorkDir, _processes.Values.Select(p => p.Entry));
        }
    }

    // Named by agent and node too (AgentOptions.Agent): two agents on one machine, of one grid or two, never share a workload's cgroup.
    private string CgroupName(WorkloadKey key) => $"{options.Agent}-n{options.NodeId}-w{key.WorkloadId}-e{key.Epoch}";

    /// <summary>Lets the workload user traverse (not list) the folders above its own, which root may have made 0700.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    internal static void OpenPathTo(string folder)
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

    /// <summary>The process with its reservation's GPUs in <c>GRID_GPU_IDS</c> (comma-separated PCI addresses), when it holds any.</summary>
    internal static ProcessSpec WithGpus(ProcessSpec process, WorkloadAssignment assignment) =>
        assignment.GpuIds.IsDefaultOrEmpty
            ? process
            : process with
            {
                Env = (process.Env ?? System.Collections.Immutable.ImmutableDictionary<string, string>.Empty)
                    .SetItem("GRID_GPU_IDS", string.Join(',', assignment.GpuIds)),
            };
}
