using System.Collections.Immutable;

namespace Grid.Nodes;

/// <summary>
/// The notices of a node's preempted workloads: each one's instance is killed when its notice is over, so the
/// heartbeat answer tells the agent the time left (SIGTERM at once, the kill at the end). Soft state: a node grain
/// that moves to another silo during a notice forgets it, and the agent then stops those workloads with its own grace.
/// </summary>
public sealed class PreemptionNotices
{
    // Made at the first notice: most nodes never preempt, and every node grain has one of these.
    private Dictionary<long, (long Epoch, DateTimeOffset Until)>? _notices;

    /// <summary>Gives the workloads of <paramref name="allocation"/> notice until <paramref name="until"/>.</summary>
    public void Add(Allocation allocation, DateTimeOffset until)
    {
        foreach (var workload in allocation.Workloads.IsDefault ? [] : allocation.Workloads)
        {
            (_notices ??= [])[workload.WorkloadId] = (workload.Epoch, until);
        }
    }

    /// <summary>The notices still running at <paramref name="now"/>, with the time each has left (null: none); ended ones are forgotten.</summary>
    public ImmutableArray<StopNotice>? Current(DateTimeOffset now)
    {
        if (_notices is null || _notices.Count == 0)
        {
            return null;
        }

        foreach (var ended in _notices.Where(n => n.Value.Until <= now).Select(n => n.Key).ToList())
        {
            _notices.Remove(ended);
        }

        return _notices.Count == 0 ? null : [.. _notices.Select(n => new StopNotice(n.Key, n.Value.Epoch, (long)(n.Value.Until - now).TotalMilliseconds))];
    }
}
