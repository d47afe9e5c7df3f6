using System.Diagnostics;

namespace Grid.Agent.Runtimes.Processes;

/// <summary>
/// One running <c>process</c> workload: a child the agent started, or an orphan of a crashed agent it adopted.
/// </summary>
internal sealed class WorkloadProcess : IDisposable
{
    // The child writes its output straight to files: a pipe to the agent would break (SIGPIPE) when the agent
    // dies, killing workloads that should survive an agent crash and be re-adopted. Before the command runs, the
    // launcher (still with the agent's rights) joins the workload's cgroups and hands its folder to the workload
    // user, then drops to that user: the command never runs unlimited or as root, not even for an instant.
    private const string Launcher = """
        out=$1; err=$2; shift 2
        for f in $GRID_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done
        run_as=$GRID_RUN_AS; unset GRID_CGROUP_PROCS GRID_RUN_AS
        if [ -n "$run_as" ]; then
          chown "$run_as" . || exit 126
          exec setpriv --reuid="${run_as%:*}" --regid="${run_as#*:}" --clear-groups -- "$@" >>"$out" 2>>"$err" </dev/null
        fi
        exec "$@" >>"$out" 2>>"$err" </dev/null
        """;

    private static readonly string? s_setsid = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);

    private readonly Process? _child;

    private WorkloadProcess(PidEntry entry, Process? child)
    {
        Entry = entry;
        _child = child;
    }

    /// <summary>What the PID file remembers about this process.</summary>
    public PidEntry Entry { get; }

    /// <summary>True once the process is gone.</summary>
    public bool HasExited => _child?.HasExited ?? !ProcessProbe.IsAlive(Entry.Pid, Entry.StartMarker);

    /// <summary>Exit code when the agent started the process itself and it has exited.</summary>
    public int? ExitCode => _child is { HasExited: true } ? _child.ExitCode : null;

    /// <summary>
    /// Starts <paramref name="spec"/> in <paramref name="folder"/>, appending its output to <c>stdout.log</c> and
    /// <c>stderr.log</c> there. With <c>setsid</c> available the workload leads its own process group, so a stop
    /// reaches every process it spawned and a Ctrl-C at the agent's terminal does not.
    /// </summary>
    public static WorkloadProcess Start(long workloadId, long epoch, ProcessSpec spec, string folder, WorkloadSandbox? sandbox = null)
    {
        Directory.CreateDirectory(folder);
        var info = new ProcessStartInfo
        {
            FileName = s_setsid ?? "/bin/sh",
            WorkingDirectory = folder,
            UseShellExecute = false,
        };
        if (s_setsid is not null)
        {
            info.ArgumentList.Add("/bin/sh");
        }

        foreach (var argument in new[] { "-c", Launcher, "grid-workload", Path.Combine(folder, "stdout.log"), Path.Combine(folder, "stderr.log"), spec.Command })
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var argument in spec.Args.IsDefault ? [] : spec.Args)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in spec.Env ?? [])
        {
            info.Environment[name] = value;
        }

        info.Environment["GRID_CGROUP_PROCS"] = sandbox is null ? "" : string.Join(' ', sandbox.CgroupProcs);
        info.Environment["GRID_RUN_AS"] = sandbox?.User is { } user ? $"{user.Uid}:{user.Gid}" : "";
        info.Environment["GRID_WORKLOAD_ID"] = workloadId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["GRID_EPOCH"] = epoch.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var child = Process.Start(info) ?? throw new InvalidOperationException($"could not start {spec.Command}");

        // setsid(1) execs in place (the child of a non-leader), so the PID stays the workload's PID.
        var marker = ProcessProbe.StartMarker(child.Id) ?? "exited-at-start";
        return new WorkloadProcess(new PidEntry(workloadId, epoch, child.Id, marker, s_setsid is not null) { Cgroup = sandbox?.Cgroup }, child);
    }

    /// <summary>Takes over a process remembered in the PID file, or null when it is no longer alive.</summary>
    public static WorkloadProcess? Adopt(PidEntry entry) =>
        ProcessProbe.IsAlive(entry.Pid, entry.StartMarker) ? new WorkloadProcess(entry, null) : null;

    /// <summary>SIGTERM, then SIGKILL once <paramref name="grace"/> has passed.</summary>
    public async Task StopAsync(TimeSpan grace, TimeProvider time)
    {
        // A leader that died long ago may have had its PID reused: signal only what we know to be ours.
        if (HasExited)
        {
            return;
        }

        ProcessProbe.Signal(Entry.Pid, Entry.ProcessGroup, ProcessProbe.SigTerm);
        var deadline = time.GetUtcNow() + grace;
        while (!HasExited && time.GetUtcNow() < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), time);
        }

        // Also reaches processes the workload spawned that outlived it in its group.
        if (Entry.ProcessGroup || !HasExited)
        {
            ProcessProbe.Signal(Entry.Pid, Entry.ProcessGroup, ProcessProbe.SigKill);
        }

        if (_child is not null)
        {
            await _child.WaitForExitAsync();
        }
    }

    /// <summary>Releases the handle only: the process keeps running.</summary>
    public void Dispose() => _child?.Dispose();
}
