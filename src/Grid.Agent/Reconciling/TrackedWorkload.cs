using System.Collections.Immutable;
using Grid.Agent.Runtimes;

namespace Grid.Agent.Reconciling;

/// <summary>A start a runtime has not finished yet, and how to call it off.</summary>
/// <param name="Task">The runtime's start.</param>
/// <param name="Cancel">Cancels it.</param>
internal sealed record PendingStart(Task<WorkloadStatus> Task, CancellationTokenSource Cancel);

/// <summary>A stop under way in the background, and why (its final report is sent once it is done).</summary>
/// <param name="Workload">The workload being stopped (no longer held).</param>
/// <param name="Reason">Why, as the final report says.</param>
/// <param name="Done">Completes when its instance is stopped.</param>
internal sealed record PendingStop(TrackedWorkload Workload, string Reason, Task Done);

/// <summary>What the agent knows about one workload it holds at one epoch; touched only by the agent's loop.</summary>
/// <param name="key">The workload and its epoch.</param>
internal sealed class TrackedWorkload(WorkloadKey key)
{
    public WorkloadKey Key { get; } = key;

    /// <summary>The controller's assignment; null for a re-adopted instance until the controller confirms it.</summary>
    public WorkloadAssignment? Assignment { get; set; }

    /// <summary>The runtime that runs it; null for a type no runtime of this agent runs (it is only modelled).</summary>
    public IWorkloadRuntime? Runtime { get; set; }

    public WorkloadState State { get; set; } = WorkloadState.Deploying;

    public string? Message { get; set; }

    public int Restarts { get; set; }

    /// <summary>The notice of a preemption: its stop waits this long between SIGTERM and the kill (null: the agent's own grace).</summary>
    public TimeSpan? StopGrace { get; set; }

    /// <summary>True while its runtime holds a running instance of it.</summary>
    public bool Active { get; set; }

    /// <summary>A start its runtime has not finished yet (an image pull), and how to call it off.</summary>
    public PendingStart? Starting { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    /// <summary>When the next restart is due; null when none is planned.</summary>
    public DateTimeOffset? RestartAt { get; set; }

    /// <summary>Delay used for the last restart; grows while the workload keeps exiting quickly.</summary>
    public TimeSpan Backoff { get; set; }

    /// <summary>True for workloads a runtime runs, starts or will restart, which self-fencing and shutdown must stop.</summary>
    public bool Runs => Active || Starting is not null || RestartAt is not null;

    public RestartHistory History => new(Restarts, Backoff, StartedAt);

    /// <summary>Why it does not run (<see cref="WorkloadReasons"/>); null while all is well.</summary>
    public string? Reason { get; set; }

    /// <summary>The image digest it runs, once its runtime verified it.</summary>
    public string? Digest { get; set; }

    /// <summary>Where its published ports are reached, once published.</summary>
    public ImmutableArray<WorkloadEndpoint>? Endpoints { get; set; }

    /// <summary>Offset of its output the controller has received (advanced when a heartbeat is delivered).</summary>
    public long LogOffset { get; set; }

    /// <summary>How the restart policy treats its exits: a container's own, else always restarted.</summary>
    public ContainerRestart RestartPolicy => Assignment?.Spec.Container?.Restart ?? ContainerRestart.Always;

    /// <summary>Its report; a start under way shows the runtime's phase (pulling, starting) when it tells one.</summary>
    public WorkloadReport ToReport(string? logs = null) =>
        new(Key.WorkloadId, Key.Epoch, Starting is not null && Runtime?.StartPhase(Key) is { } phase ? phase : State, Restarts, Message)
        {
            Reason = Reason,
            Digest = Digest,
            Endpoints = Endpoints,
            Logs = logs,
        };
}
