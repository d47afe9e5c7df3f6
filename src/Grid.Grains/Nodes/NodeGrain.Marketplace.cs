using Grid.Grains;

namespace Grid.Nodes;

/// <summary>
/// The node grain's part of the capacity marketplace: devices and coordinates its agent reports, and quarantine. The
/// rules are in <see cref="GpuPool"/>, <see cref="NodeQuarantine"/> and <see cref="QuarantineCounter"/>; this is the glue
/// that writes and publishes what they change.
/// </summary>
public sealed partial class NodeGrain
{
    private NodeQuarantine Quarantine => _quarantine ??= new(NodeId, health.Value, metrics, logger);

    /// <summary>The node's own failures in the quarantine window (0 before its first).</summary>
    private int RecentFailures() => _quarantine?.Recent(clock.UtcNow) ?? 0;

    public async Task<NodeInfo?> ClearQuarantineAsync()
    {
        if (state.State.Registration is null)
        {
            return null;
        }

        if (Quarantine.Clear(state.State))
        {
            await Writer.WriteAsync();
        }

        PublishSummary();
        return Info();
    }

    /// <summary>
    /// Counts the heartbeat's failures of the node's own; quarantines it (durably) when they reach the threshold. False
    /// when a failure could not be judged now: the reports are then not acknowledged, so it comes again.
    /// </summary>
    private async Task<bool> ObserveFailuresAsync(Heartbeat heartbeat, DateTimeOffset now)
    {
        // Only the workloads the node holds at the epoch reported count: a report of another's is not its failure.
        var failing = heartbeat.Workloads.Where(r => _quarantine?.Counts(r) ?? QuarantineCounter.CountsAgainstNode(r)).ToList();
        var judged = true;
        if (failing.Count > 0)
        {
            var held = Allocations.WorkloadEpochs();
            failing.RemoveAll(r => !held.TryGetValue(r.WorkloadId, out var epoch) || epoch != r.Epoch);

            // The same workload failing the same way on another node is its spec's (the tenant's), not this node's.
            // Asked only for failures not counted yet: a crash-loop asks once per epoch.
            var elsewhere = await Task.WhenAll(failing.Select(FailedElsewhereAsync));
            judged = !elsewhere.Contains(null);
            failing = [.. failing.Where((_, i) => elsewhere[i] == false)];
        }

        if (failing.Count == 0 && _quarantine is null)
        {
            // Never a failure of its own in this activation: nothing to count, nothing kept.
            return judged;
        }

        var change = Quarantine.Observe(state.State, failing, now);
        if (change == QuarantineChange.Quarantined)
        {
            await Writer.WriteAsync();
        }

        if (change != QuarantineChange.None)
        {
            PublishSummary();
        }

        return judged;
    }

    /// <summary>True when the report's workload failed the same way on another node; null when that cannot be told now (the report must come again).</summary>
    private async Task<bool?> FailedElsewhereAsync(WorkloadReport report)
    {
        try
        {
            return await GrainFactory.GetGrain<IWorkloadGrain>(report.WorkloadId).FailedElsewhereAsync(NodeId, report.Reason);
        }
        catch (Exception exception)
        {
            // Not counted now: the reports are not acknowledged, so the agent sends the failure again and it is asked then.
            LogBlameUnknown(logger, exception, NodeId, report.WorkloadId);
            return null;
        }
    }

    /// <summary>Takes the GPUs and coordinates the agent reported; true when they changed (then written and published).</summary>
    private bool ChangeDevices(Heartbeat heartbeat)
    {
        if (!state.State.ChangeDevices(heartbeat.Gpus, heartbeat.Latitude, heartbeat.Longitude))
        {
            return false;
        }

        // A GPU the node no longer reports is not taken by new allocations (those holding one keep their ids).
        Allocations.Gpus = state.State.EffectiveGpus();
        return true;
    }
}
