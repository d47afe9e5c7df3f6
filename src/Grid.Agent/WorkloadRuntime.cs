namespace Grid.Agent;

/// <summary>What the agent knows about one workload it holds at one epoch; touched only by the agent's loop.</summary>
internal sealed class WorkloadRuntime(long workloadId, long epoch)
{
    public long WorkloadId { get; } = workloadId;

    public long Epoch { get; } = epoch;

    /// <summary>The controller's assignment; null for a re-adopted orphan until the controller confirms it.</summary>
    public WorkloadAssignment? Assignment { get; set; }

    public WorkloadState State { get; set; } = WorkloadState.Deploying;

    public string? Message { get; set; }

    public int Restarts { get; set; }

    /// <summary>The running process of a <c>process</c> workload; null while it waits for a restart.</summary>
    public WorkloadProcess? Process { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    /// <summary>When the next restart is due; null when none is planned.</summary>
    public DateTimeOffset? RestartAt { get; set; }

    /// <summary>Delay used for the last restart; grows while the workload keeps exiting quickly.</summary>
    public TimeSpan Backoff { get; set; }

    /// <summary>True for workloads with a real process (running or waiting to restart) that self-fencing must stop.</summary>
    public bool RunsProcess => Process is not null || RestartAt is not null;

    public WorkloadReport ToReport() => new(WorkloadId, Epoch, State, Restarts, Message);
}
