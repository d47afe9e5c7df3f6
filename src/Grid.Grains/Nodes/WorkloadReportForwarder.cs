using System.Collections.Immutable;
using Grid.Grains;
using Microsoft.Extensions.Logging;

namespace Grid.Nodes;

/// <summary>
/// Forwards the workload reports of a node's heartbeat to their workload grains: only reports of copies the node
/// should run, and only what changed since the last accepted report. The heartbeat awaits the forwarding (all
/// reports in parallel), but one workload out of reach never fails it: the forwarding answers false instead, and the
/// node does not acknowledge the reports (<see cref="HeartbeatResponse.ReportsAcknowledged"/>), so they come again.
/// </summary>
/// <param name="nodeId">The node reporting.</param>
/// <param name="grains">Where the workload grains are.</param>
/// <param name="logger">Where a report that could not be forwarded is logged.</param>
public sealed partial class WorkloadReportForwarder(long nodeId, IGrainFactory grains, ILogger logger)
{
    // The last accepted report per workload, without its output and message (neither makes a report news).
    private readonly Dictionary<long, WorkloadReport> _reported = [];

    /// <summary>
    /// Forwards <paramref name="reports"/> of the workloads <paramref name="held"/> says the node should run, at their
    /// epoch. True when every report is taken: accepted, a repeat, or of a copy the node should not run; false when one
    /// must be sent again (its workload grain out of reach, or not yet knowing the placement the report is of).
    /// </summary>
    public async Task<bool> ForwardAsync(ImmutableArray<WorkloadReport> reports, NodeCapacity held)
    {
        if (reports.IsDefaultOrEmpty)
        {
            return true;
        }

        // Most heartbeats repeat what was accepted last time: those reports are dropped before the epochs the node
        // holds are listed (a repeated report is dropped whatever its epoch, so the order of the two checks
        // changes nothing but the work).
        Dictionary<long, long>? epochs = null;
        List<(WorkloadReport Report, Task<bool> Accepted)>? forwarded = null;
        foreach (var report in reports)
        {
            // Output is a delta: a report that carries some is always forwarded.
            if (_reported.TryGetValue(report.WorkloadId, out var last) && report.Repeats(last))
            {
                continue;
            }

            // Reports of copies this node should not run (older epoch, unknown) are not forwarded: the
            // desired list in the answer tells the agent to stop them.
            epochs ??= held.WorkloadEpochs();
            if (!epochs.TryGetValue(report.WorkloadId, out var epoch) || epoch != report.Epoch)
            {
                continue;
            }

            (forwarded ??= []).Add((report, grains.GetGrain<IWorkloadGrain>(report.WorkloadId).ReportAsync(nodeId, report)));
        }

        var taken = true;
        foreach (var (report, accepted) in forwarded ?? [])
        {
            try
            {
                // Remembered only once accepted, so a report that raced ahead of the placement is sent again.
                if (await accepted)
                {
                    _reported[report.WorkloadId] = report is { Logs: null, Message: null } ? report : report with { Logs = null, Message = null };
                }
                else
                {
                    taken = false;
                }
            }
            catch (Exception exception)
            {
                // One workload grain out of reach (its silo failing over, its storage) must not fail the node's
                // heartbeat: the agent would take a healthy node for disconnected and fence it. Sent again next time.
                LogReportFailed(logger, exception, nodeId, report.WorkloadId);
                taken = false;
            }
        }

        return taken;
    }

    /// <summary>
    /// The <see cref="Heartbeat.ReportsVersion"/> the node holds every report of (the answer's
    /// <see cref="HeartbeatResponse.ReportsAcknowledged"/>); null when it holds none, and after a new activation.
    /// </summary>
    public long? Acknowledged { get; private set; }

    /// <summary>
    /// After <paramref name="heartbeat"/>'s reports were forwarded and counted: its version is acknowledged when they
    /// were every report (or the change of the version acknowledged last) and all were <paramref name="taken"/>.
    /// Otherwise nothing is: the agent's next heartbeat sends every report again.
    /// </summary>
    public long? Acknowledge(Heartbeat heartbeat, bool taken) =>
        Acknowledged = heartbeat.ReportsVersion is { } version && taken && (heartbeat.ReportsBase is null || heartbeat.ReportsBase == Acknowledged)
            ? version
            : null;

    /// <summary>Forgets what was reported for the workloads of a released allocation.</summary>
    public void Forget(Allocation released)
    {
        foreach (var workload in released.Workloads)
        {
            _reported.Remove(workload.WorkloadId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} could not forward the report of workload {WorkloadId}")]
    private static partial void LogReportFailed(ILogger logger, Exception exception, long nodeId, long workloadId);
}
