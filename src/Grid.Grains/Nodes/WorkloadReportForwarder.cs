using System.Collections.Immutable;
using Grid.Grains;
using Microsoft.Extensions.Logging;

namespace Grid.Nodes;

/// <summary>
/// Forwards the workload reports of a node's heartbeat to their workload grains: only reports of copies the node
/// should run, and only what changed since the last accepted report. The heartbeat awaits the forwarding (all
/// reports in parallel), but one workload out of reach never fails it.
/// </summary>
/// <param name="nodeId">The node reporting.</param>
/// <param name="grains">Where the workload grains are.</param>
/// <param name="logger">Where a report that could not be forwarded is logged.</param>
public sealed partial class WorkloadReportForwarder(long nodeId, IGrainFactory grains, ILogger logger)
{
    private readonly Dictionary<long, ReportKey> _reported = [];

    /// <summary>Forwards <paramref name="reports"/> of the workloads <paramref name="held"/> says the node should run, at their epoch.</summary>
    public async Task ForwardAsync(ImmutableArray<WorkloadReport> reports, NodeCapacity held)
    {
        if (reports.IsDefaultOrEmpty)
        {
            return;
        }

        // Most heartbeats repeat what was accepted last time: those reports are dropped before the epochs the node
        // holds are listed (a repeated report is dropped whatever its epoch, so the order of the two checks
        // changes nothing but the work).
        Dictionary<long, long>? epochs = null;
        List<(WorkloadReport Report, Task<bool> Accepted)>? forwarded = null;
        foreach (var report in reports)
        {
            // Output is a delta: a report that carries some is always forwarded.
            if (string.IsNullOrEmpty(report.Logs) && _reported.TryGetValue(report.WorkloadId, out var last) && last.Repeats(report))
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

        foreach (var (report, accepted) in forwarded ?? [])
        {
            try
            {
                // Remembered only once accepted, so a report that raced ahead of the placement is sent again.
                if (await accepted)
                {
                    _reported[report.WorkloadId] = ReportKey.Of(report);
                }
            }
            catch (Exception exception)
            {
                // One workload grain out of reach (its silo failing over, its storage) must not fail the node's
                // heartbeat: the agent would take a healthy node for disconnected and fence it. Sent again next time.
                LogReportFailed(logger, exception, nodeId, report.WorkloadId);
            }
        }
    }

    /// <summary>Forgets what was reported for the workloads of a released allocation.</summary>
    public void Forget(Allocation released)
    {
        foreach (var workload in released.Workloads)
        {
            _reported.Remove(workload.WorkloadId);
        }
    }

    /// <summary>What makes a report news for its workload grain (endpoints compared by content).</summary>
    private readonly record struct ReportKey(long Epoch, WorkloadState State, int Restarts, string? Reason, string? Digest, string? Endpoints)
    {
        public static ReportKey Of(WorkloadReport report) => new(report.Epoch, report.State, report.Restarts, report.Reason, report.Digest, Joined(report));

        /// <summary>Whether <paramref name="report"/> says nothing new; its endpoints are joined only when all else is the same.</summary>
        public bool Repeats(WorkloadReport report) =>
            Epoch == report.Epoch && State == report.State && Restarts == report.Restarts && Reason == report.Reason && Digest == report.Digest
            && Endpoints == Joined(report);

        private static string? Joined(WorkloadReport report) =>
            report.Endpoints is { } endpoints ? string.Join(',', endpoints.Select(e => $"{e.Name}={e.Address}:{e.Port}")) : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} could not forward the report of workload {WorkloadId}")]
    private static partial void LogReportFailed(ILogger logger, Exception exception, long nodeId, long workloadId);
}
