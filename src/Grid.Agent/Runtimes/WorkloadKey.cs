namespace Grid.Agent.Runtimes;

/// <summary>One instance of a workload: the workload at one placement epoch.</summary>
/// <param name="WorkloadId">The workload.</param>
/// <param name="Epoch">Placement epoch of its reservation the instance runs for.</param>
internal readonly record struct WorkloadKey(long WorkloadId, long Epoch)
{
    /// <inheritdoc/>
    public override string ToString() => $"{WorkloadId}-e{Epoch}";
}
