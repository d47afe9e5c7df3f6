namespace Grid.Agent.Runtimes;

/// <summary>
/// A workload type this node will not run: every start is answered with <paramref name="answer"/> (a missing
/// feature, an unsupported type), so the workload is reported with the reason and never as running.
/// </summary>
/// <param name="type">The workload type.</param>
/// <param name="answer">What every start answers.</param>
internal sealed class RefusingRuntime(WorkloadType type, WorkloadStatus answer) : IWorkloadRuntime
{
    /// <inheritdoc/>
    public WorkloadType Type => type;

    /// <summary>A type whose node lacks <paramref name="feature"/>: failed, with why.</summary>
    public static RefusingRuntime MissingFeature(WorkloadType type, string feature, string why) =>
        new(type, new WorkloadStatus(WorkloadCondition.Refused, $"this node lacks the '{feature}' feature: {why}", Reason: WorkloadReasons.FeatureMissing));

    /// <summary>A type the grid models but no node runs: unsupported.</summary>
    public static RefusingRuntime Unsupported(WorkloadType type) =>
        new(type, new WorkloadStatus(WorkloadCondition.Unsupported, $"{type.ToString().ToLowerInvariant()} workloads are not supported by this grid's nodes yet", Reason: WorkloadReasons.Unsupported));

    /// <inheritdoc/>
    public Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public Task<IReadOnlyList<WorkloadKey>> AdoptAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<WorkloadKey>>([]);

    /// <inheritdoc/>
    public Task<WorkloadStatus> StartAsync(WorkloadAssignment assignment, CancellationToken cancellationToken) => Task.FromResult(answer);

    /// <inheritdoc/>
    public Task<WorkloadStatus> InspectAsync(WorkloadKey key, CancellationToken cancellationToken) => Task.FromResult(answer);

    /// <inheritdoc/>
    public Task StopAsync(WorkloadKey key, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}
