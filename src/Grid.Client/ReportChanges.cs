using System.Collections.Immutable;

namespace Grid.Client;

/// <summary>
/// Which workload reports a heartbeat carries. Every report, until the controller acknowledges a version of them
/// (<see cref="HeartbeatResponse.ReportsAcknowledged"/>); from then on only the reports that differ from that version's
/// (<see cref="WorkloadReport.Repeats"/>), sent as a change of it (<see cref="Heartbeat.ReportsBase"/>). A node whose
/// 100 workloads run on sends none. An answer that acknowledges nothing (a controller that lost its view, or one older
/// than the protocol) brings every report back in the next heartbeat. The agent's (and the demo's simulated nodes'):
/// one per node, used by one heartbeat at a time.
/// </summary>
/// <param name="firstVersion">
/// The first version this agent process numbers its reports with: a number no earlier process of the node used (the
/// start time in milliseconds), so a change is never read as one of a predecessor's versions.
/// </param>
public sealed class ReportChanges(long firstVersion)
{
    private long _next = firstVersion;
    private Held? _acknowledged;
    private Held? _sent;

    /// <summary>The version the controller acknowledged last; null while it holds none.</summary>
    public long? Acknowledged => _acknowledged?.Version;

    /// <summary>
    /// What the next heartbeat says of <paramref name="reports"/> (every report the agent has now): the reports to
    /// send, the version they bring the controller to, and the acknowledged version they change (null: every report).
    /// </summary>
    public (ImmutableArray<WorkloadReport> Workloads, long Version, long? Base) Next(ImmutableArray<WorkloadReport> reports)
    {
        var all = new Dictionary<(long WorkloadId, long Epoch), WorkloadReport>(reports.Length);
        foreach (var report in reports)
        {
            all[(report.WorkloadId, report.Epoch)] = report;
        }

        if (_acknowledged is not { } acknowledged)
        {
            _sent = new Held(_next++, all);
            return (reports, _sent.Version, null);
        }

        var changed = ImmutableArray.CreateBuilder<WorkloadReport>();
        foreach (var report in reports)
        {
            if (!acknowledged.Reports.TryGetValue((report.WorkloadId, report.Epoch), out var last) || !report.Repeats(last))
            {
                changed.Add(report);
            }
        }

        _sent = new Held(changed.Count == 0 ? acknowledged.Version : _next++, all);
        return (changed.ToImmutable(), _sent.Version, acknowledged.Version);
    }

    /// <summary>
    /// The controller answered the last heartbeat <see cref="Next"/> made, acknowledging <paramref name="acknowledged"/>:
    /// the reports of that version are the base of the next change, or, when it acknowledged anything else, there is none.
    /// </summary>
    public void Answered(long? acknowledged) =>
        _acknowledged = acknowledged is { } version && _sent is { } sent && sent.Version == version ? sent : null;

    private sealed record Held(long Version, Dictionary<(long WorkloadId, long Epoch), WorkloadReport> Reports);
}
