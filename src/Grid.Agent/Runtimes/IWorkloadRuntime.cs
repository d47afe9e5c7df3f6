namespace Grid.Agent.Runtimes;

/// <summary>
/// Runs one type of workload on this machine (processes today; containers and gateways next). The agent keeps
/// one runtime per <see cref="WorkloadType"/> and calls it from its loop only, except that stops of several
/// workloads run in parallel. Every workload is addressed by its <see cref="WorkloadKey"/>: the same workload at
/// another epoch is another instance.
/// </summary>
internal interface IWorkloadRuntime : IDisposable
{
    /// <summary>The workload type this runtime runs.</summary>
    WorkloadType Type { get; }

    /// <summary>
    /// Finds what the runtime needs on this machine (users, limits, an engine to talk to), once, before anything
    /// else; says clearly in the log what is missing. Workloads it then cannot run are refused at start.
    /// </summary>
    Task PrepareAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Re-attaches to the instances a previous agent on this machine left running (it crashed or was killed), so
    /// the agent keeps or stops them as the controller says instead of starting second copies.
    /// </summary>
    Task<IReadOnlyList<WorkloadKey>> AdoptAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Starts <paramref name="assignment"/> (again, after an exit). May take long (an image pull): the agent does
    /// not wait for it in its loop, and cancels it when the workload is stopped meanwhile. Answers
    /// <see cref="WorkloadCondition.Running"/>, or why it does not run; never throws for a workload that cannot start.
    /// A cancelled start answers or throws <see cref="OperationCanceledException"/>; when it throws, it leaves nothing
    /// running (what it answers <see cref="WorkloadCondition.Running"/> is stopped by the agent).
    /// </summary>
    Task<WorkloadStatus> StartAsync(WorkloadAssignment assignment, CancellationToken cancellationToken);

    /// <summary>
    /// How an instance started or adopted here is doing. An instance that ended is answered once with why
    /// (<see cref="WorkloadCondition.Exited"/>, <see cref="WorkloadCondition.OomKilled"/>) and then forgotten.
    /// </summary>
    Task<WorkloadStatus> InspectAsync(WorkloadKey key, CancellationToken cancellationToken);

    /// <summary>Stops an instance cleanly (a grace period, then by force) and forgets it; nothing when it is gone.</summary>
    Task StopAsync(WorkloadKey key, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="StopAsync(WorkloadKey, CancellationToken)"/> with <paramref name="grace"/> between SIGTERM and the kill
    /// instead of the agent's own (a preemption's notice); a runtime without signals stops as it always does.
    /// </summary>
    Task StopAsync(WorkloadKey key, TimeSpan grace, CancellationToken cancellationToken) => StopAsync(key, cancellationToken);

    /// <summary>
    /// Where a start still under way stands (<see cref="WorkloadState.Pulling"/>, <see cref="WorkloadState.Starting"/>),
    /// for the reports meanwhile; null when the runtime does not tell.
    /// </summary>
    WorkloadState? StartPhase(WorkloadKey key) => null;

    /// <summary>Output the instance wrote from <paramref name="offset"/> on (bounded); null when nothing is new or kept.</summary>
    Containers.LogChunk? ReadLogs(WorkloadKey key, long offset) => null;
}
