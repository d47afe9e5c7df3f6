using Microsoft.Extensions.Logging;

namespace Grid.Nodes;

/// <summary>The node grain's log messages.</summary>
public sealed partial class NodeGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} heartbeat arrived while it was declared down: it stays, nothing is moved")]
    private static partial void LogDownOverruled(ILogger logger, long nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} still holds {Count} allocations while {Status}: moving them (again)")]
    private static partial void LogResumingEvacuation(ILogger logger, long nodeId, int count, NodeStatus status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} status {Previous} -> {Status}")]
    private static partial void LogStatusChanged(ILogger logger, long nodeId, NodeStatus previous, NodeStatus status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} draining={Draining} (maxParallel {MaxParallel})")]
    private static partial void LogDraining(ILogger logger, long nodeId, bool draining, int maxParallel);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} could not ask workload {WorkloadId} where it failed: its failure is not counted now")]
    private static partial void LogBlameUnknown(ILogger logger, Exception exception, long nodeId, long workloadId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} preempted {Count} reservations for reservation {ReservationId}")]
    private static partial void LogPreempted(ILogger logger, long nodeId, long reservationId, int count);
}
