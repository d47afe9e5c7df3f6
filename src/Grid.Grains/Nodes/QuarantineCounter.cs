namespace Grid.Nodes;

/// <summary>
/// Counts the failures that count against a node (<see cref="FailureBlame"/>) in a sliding window: each workload at
/// each placement epoch counts at most once (a single broken workload restarting in a loop is one failure, so it
/// takes several workloads failing to quarantine a node). Soft state of the node's activation; the quarantine itself
/// is durable in the node's state. Not thread-safe: the node grain calls it in its turns.
/// </summary>
/// <param name="threshold">Failures within <paramref name="window"/> that quarantine the node.</param>
/// <param name="window">How long a failure counts.</param>
public sealed class QuarantineCounter(int threshold, TimeSpan window)
{
    private readonly Queue<DateTimeOffset> _failures = new();
    private readonly HashSet<(long WorkloadId, long Epoch)> _counted = [];

    /// <summary>Failures within the window as of <paramref name="now"/>.</summary>
    public int Recent(DateTimeOffset now)
    {
        while (_failures.TryPeek(out var oldest) && oldest <= now - window)
        {
            _failures.Dequeue();
        }

        if (_failures.Count == 0)
        {
            // Nothing in the window: what was counted before may count again once it fails again after it.
            _counted.Clear();
        }

        return _failures.Count;
    }

    /// <summary>
    /// Takes one heartbeat's reports: a workload reported failed, or restarted after failing to start, for a reason
    /// that counts against the node counts once per placement epoch. Answers how many new failures were counted.
    /// </summary>
    public int Observe(IEnumerable<WorkloadReport> reports, DateTimeOffset now)
    {
        var added = 0;
        foreach (var report in reports)
        {
            if (!CountsAgainstNode(report) || !_counted.Add((report.WorkloadId, report.Epoch)))
            {
                continue;
            }

            _failures.Enqueue(now);
            added++;
        }

        return added;
    }

    /// <summary>True when <paramref name="report"/> would count (a failure of the node's, not counted yet at its epoch).</summary>
    public bool Counts(WorkloadReport report) => CountsAgainstNode(report) && !_counted.Contains((report.WorkloadId, report.Epoch));

    /// <summary>A failure the node is blamed for (not the tenant's), counted or not.</summary>
    public static bool CountsAgainstNode(WorkloadReport report) => IsFailure(report) && FailureBlame.CountsAgainstNode(report.Reason);

    /// <summary>True when the failures within the window reach the threshold.</summary>
    public bool Reached(DateTimeOffset now) => Recent(now) >= threshold;

    /// <summary>Forgets every failure (the farmer cleared the quarantine: the node starts over).</summary>
    public void Clear()
    {
        _failures.Clear();
        _counted.Clear();
    }

    /// <summary>A failed state, or a restart with a reason (the agent's crash-loop: it restarts what could not start).</summary>
    public static bool IsFailure(WorkloadReport report) =>
        report.State == WorkloadState.Failed || (report.Restarts > 0 && report.Reason is not null);
}
