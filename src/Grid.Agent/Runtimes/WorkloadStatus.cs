using System.Collections.Immutable;

namespace Grid.Agent.Runtimes;

/// <summary>Why a workload instance runs or does not, as a runtime tells it; the agent's restart policy keys on it.</summary>
internal enum WorkloadCondition
{
    /// <summary>Started (or adopted) and running.</summary>
    Running,

    /// <summary>Ended by itself; <see cref="WorkloadStatus.ExitCode"/> when known. Restarted with backoff.</summary>
    Exited,

    /// <summary>Killed by its memory limit: a restart would only hit it again, so it is not restarted.</summary>
    OomKilled,

    /// <summary>Could not be started this time (a transient failure): retried with backoff.</summary>
    StartFailed,

    /// <summary>This runtime will not run it here (settings, allow-list, sandbox): never retried.</summary>
    Refused,

    /// <summary>A type this grid models but no node runs (<c>zdb</c>): reported unsupported, never running.</summary>
    Unsupported,
}

/// <summary>What a runtime says about one workload instance.</summary>
/// <param name="Condition">Whether it runs, and why not.</param>
/// <param name="Message">Detail for the operator and the tenant (a refusal's reason, a start's error).</param>
/// <param name="ExitCode">Exit code of an <see cref="WorkloadCondition.Exited"/> instance, when known.</param>
/// <param name="Reason">Machine-readable reason when it does not run (<see cref="WorkloadReasons"/>).</param>
/// <param name="Digest">The image digest a container runs, as the node verified it.</param>
/// <param name="Endpoints">Where its published ports are reached.</param>
internal sealed record WorkloadStatus(
    WorkloadCondition Condition,
    string? Message = null,
    int? ExitCode = null,
    string? Reason = null,
    string? Digest = null,
    ImmutableArray<WorkloadEndpoint>? Endpoints = null)
{
    /// <summary>A running instance.</summary>
    public static WorkloadStatus Running { get; } = new(WorkloadCondition.Running);
}
