using Grid.Nodes;

namespace Grid.Workloads;

/// <summary>
/// Where a workload failed, by reason: the nodes that reported it failed (or restarting after a failure) for each
/// reason. A failure the same workload met the same way on another node is its spec's (the tenant's: a bad image or
/// command fails on every node), so it does not count against the node (<see cref="QuarantineCounter"/>). Kept in the
/// workload's record, bounded: a few nodes per reason tell "elsewhere", and reasons are a short list.
/// </summary>
public static class FailureHistory
{
    /// <summary>Nodes kept per reason: two already tell "elsewhere"; a few more survive moves back and forth.</summary>
    public const int MaxNodesPerReason = 4;

    /// <summary>Reasons kept (the agents' reasons are a short list; a node cannot grow the record without bound).</summary>
    public const int MaxReasons = 16;

    /// <summary>Records a failure <paramref name="report"/> of <paramref name="nodeId"/>; true when the history changed (then written).</summary>
    public static bool Record(Dictionary<string, List<long>> failedOn, long nodeId, WorkloadReport report)
    {
        if (!QuarantineCounter.IsFailure(report))
        {
            return false;
        }

        var key = Key(report.Reason);
        if (!failedOn.TryGetValue(key, out var nodes))
        {
            if (failedOn.Count >= MaxReasons)
            {
                return false;
            }

            failedOn[key] = nodes = [];
        }

        if (nodes.Contains(nodeId) || nodes.Count >= MaxNodesPerReason)
        {
            return false;
        }

        nodes.Add(nodeId);
        return true;
    }

    /// <summary>True when a node other than <paramref name="nodeId"/> reported the workload failed for <paramref name="reason"/>.</summary>
    public static bool FailedElsewhere(IReadOnlyDictionary<string, List<long>> failedOn, long nodeId, string? reason) =>
        failedOn.TryGetValue(Key(reason), out var nodes) && nodes.Exists(node => node != nodeId);

    // A failure without a reason is one reason of its own.
    private static string Key(string? reason) => reason ?? "";
}
