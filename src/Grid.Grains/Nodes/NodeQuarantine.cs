using System.Globalization;
using Grid.Telemetry;
using Microsoft.Extensions.Logging;

namespace Grid.Nodes;

/// <summary>What a heartbeat's reports did to a node's quarantine.</summary>
public enum QuarantineChange
{
    /// <summary>Nothing to publish.</summary>
    None,

    /// <summary>The failures counted against the node changed: its summary (its rank) is published again.</summary>
    Ranked,

    /// <summary>The node was quarantined: written, published, an event and a metric.</summary>
    Quarantined,
}

/// <summary>
/// A node's quarantine: the soft failure count (<see cref="QuarantineCounter"/>) and the durable flag in
/// <see cref="NodeState"/>. Kept beside <see cref="NodeGrain"/> so the grain only writes and publishes what it answers.
/// </summary>
public sealed partial class NodeQuarantine(long nodeId, GridHealthOptions health, GridMetrics metrics, ILogger logger)
{
    private readonly QuarantineCounter _counter = new(health.QuarantineFailures, health.QuarantineWindow);
    private int _published;

    /// <summary>Failures counted within the window now (what the summary carries for ranking).</summary>
    public int Recent(DateTimeOffset now) => _published = _counter.Recent(now);

    /// <inheritdoc cref="QuarantineCounter.Counts"/>
    public bool Counts(WorkloadReport report) => _counter.Counts(report);

    /// <summary>Counts a heartbeat's failures; quarantines <paramref name="node"/> when they reach the threshold.</summary>
    public QuarantineChange Observe(NodeState node, IReadOnlyCollection<WorkloadReport> reports, DateTimeOffset now)
    {
        var added = reports.Count == 0 ? 0 : _counter.Observe(reports, now);
        if (added > 0)
        {
            metrics.NodeFailures(added);
        }

        var before = _published;
        var recent = Recent(now);
        if (!node.Quarantined && recent >= health.QuarantineFailures)
        {
            node.Quarantined = true;
            node.QuarantinedAt = now;
            var message = string.Create(CultureInfo.InvariantCulture,
                $"Node {nodeId} is quarantined: {recent} workload failures of its own within {health.QuarantineWindow:c}; its farmer clears it with DELETE /api/v1/nodes/{nodeId}/quarantine.");
            metrics.Quarantine(nodeId, true, message);
            LogQuarantined(logger, nodeId, recent);
            return QuarantineChange.Quarantined;
        }

        return recent != before ? QuarantineChange.Ranked : QuarantineChange.None;
    }

    /// <summary>Clears the quarantine and the failure count; true when the node was quarantined.</summary>
    public bool Clear(NodeState node)
    {
        _counter.Clear();
        _published = 0;
        if (!node.Quarantined)
        {
            return false;
        }

        node.Quarantined = false;
        node.QuarantinedAt = null;
        metrics.Quarantine(nodeId, false, string.Create(CultureInfo.InvariantCulture, $"Node {nodeId}'s quarantine was cleared."));
        LogCleared(logger, nodeId);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} quarantined after {Failures} failures of its own")]
    private static partial void LogQuarantined(ILogger logger, long nodeId, int failures);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId}'s quarantine cleared")]
    private static partial void LogCleared(ILogger logger, long nodeId);
}
