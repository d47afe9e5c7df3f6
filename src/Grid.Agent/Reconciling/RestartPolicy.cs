using Grid.Agent.Runtimes;

namespace Grid.Agent.Reconciling;

/// <summary>What the agent remembers of a workload's earlier runs, for the restart backoff.</summary>
/// <param name="Restarts">Restarts so far.</param>
/// <param name="Backoff">Delay used for the last restart; zero before the first.</param>
/// <param name="StartedAt">When the workload last started running.</param>
internal sealed record RestartHistory(int Restarts, TimeSpan Backoff, DateTimeOffset StartedAt);

/// <summary>How a workload stands after a runtime answered about it.</summary>
/// <param name="State">The state reported to the controller.</param>
/// <param name="Message">Why, for the tenant; null while it simply runs.</param>
/// <param name="RestartAt">When it is started again; null when no restart is planned.</param>
/// <param name="Backoff">Delay of the planned restart (else the last one, unchanged).</param>
/// <param name="Reason">Machine-readable reason it does not run (<see cref="WorkloadReasons"/>); null while it runs.</param>
internal sealed record WorkloadOutcome(WorkloadState State, string? Message, DateTimeOffset? RestartAt, TimeSpan Backoff, string? Reason = null);

/// <summary>
/// Restarts exited workloads with exponential backoff: the delay starts at <paramref name="Initial"/> and doubles
/// per quick exit up to <paramref name="Max"/>; a workload that ran at least <paramref name="Max"/> starts over at
/// <paramref name="Initial"/>. Workloads refused or killed by their memory limit are never restarted: they would
/// only fail again.
/// </summary>
/// <param name="Initial">Delay of the first restart.</param>
/// <param name="Max">Largest delay, and the run time after which the delay starts over.</param>
internal sealed record RestartPolicy(TimeSpan Initial, TimeSpan Max)
{
    /// <summary>How a workload stands after <paramref name="status"/>, at <paramref name="now"/>.</summary>
    /// <param name="status">What its runtime answered (a start's result, or an inspection that found it ended).</param>
    /// <param name="history">Its earlier runs.</param>
    /// <param name="reservedMru">Memory it reserved, for the message of a workload killed by its limit.</param>
    /// <param name="now">The current time.</param>
    /// <param name="restart">
    /// When an ended workload starts again (a container's <c>restart</c>; processes always restart): with
    /// <c>on-failure</c> an exit with code 0 is final (<see cref="WorkloadState.Exited"/>), with <c>never</c> every exit is.
    /// </param>
    public WorkloadOutcome Decide(
        WorkloadStatus status, RestartHistory history, long? reservedMru, DateTimeOffset now, ContainerRestart restart = ContainerRestart.Always) => status.Condition switch
    {
        WorkloadCondition.Running => new(WorkloadState.Running, null, null, history.Backoff),
        WorkloadCondition.Refused => new(WorkloadState.Failed, status.Message, null, history.Backoff, status.Reason ?? WorkloadReasons.Refused),
        WorkloadCondition.Unsupported => new(WorkloadState.Unsupported, status.Message, null, history.Backoff, status.Reason ?? WorkloadReasons.Unsupported),
        WorkloadCondition.OomKilled => new(
            WorkloadState.Failed,
            $"stopped by its memory limit: used more than the {reservedMru} bytes reserved (killed by the kernel)",
            null,
            history.Backoff,
            WorkloadReasons.OomKilled),
        WorkloadCondition.StartFailed => Restart($"could not start: {status.Message}", history, now) with { Reason = status.Reason ?? WorkloadReasons.StartFailed },
        _ => Ended(status, history, now, restart),
    };

    /// <summary>The delay before the next restart, after the last one was <paramref name="previous"/> and the workload ran <paramref name="ranFor"/>.</summary>
    public TimeSpan NextBackoff(TimeSpan previous, TimeSpan ranFor)
    {
        var doubled = previous * 2;
        return previous == TimeSpan.Zero || ranFor >= Max ? Initial
            : doubled < Max ? doubled : Max;
    }

    private WorkloadOutcome Ended(WorkloadStatus status, RestartHistory history, DateTimeOffset now, ContainerRestart restart)
    {
        var what = status.ExitCode is { } code ? $"exited with code {code}" : "exited";
        var reason = status.Reason ?? (status.ExitCode is null or 0 ? null : WorkloadReasons.ExitCode);
        return (restart, status.ExitCode) switch
        {
            (ContainerRestart.Never, 0) or (ContainerRestart.OnFailure, 0) => new(WorkloadState.Exited, what, null, history.Backoff),
            (ContainerRestart.Never, _) => new(WorkloadState.Failed, what, null, history.Backoff, reason ?? WorkloadReasons.ExitCode),
            _ => Restart(what, history, now) with { Reason = reason },
        };
    }

    private WorkloadOutcome Restart(string what, RestartHistory history, DateTimeOffset now)
    {
        var backoff = NextBackoff(history.Backoff, now - history.StartedAt);
        return new(WorkloadState.Failed, $"{what}; restart {history.Restarts + 1} in {backoff.TotalSeconds:0.###}s", now + backoff, backoff);
    }
}
