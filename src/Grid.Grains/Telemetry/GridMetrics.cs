using System.Diagnostics.Metrics;
using System.Globalization;
using Grid.Scheduling;

namespace Grid.Telemetry;

/// <summary>
/// The <c>Grid.Orleans</c> meter: placements, scheduling latency, node status changes, evacuations, and
/// gauges of nodes by status and capacity by unit read from this silo's view of the index.
/// </summary>
public sealed class GridMetrics
{
    private readonly Counter<long> _placed;
    private readonly Counter<long> _failed;
    private readonly Histogram<double> _latency;
    private readonly Counter<long> _statusChanges;
    private readonly Counter<long> _moves;
    private readonly Counter<long> _movesDelayed;
    private readonly Counter<long> _heartbeats;
    private readonly Histogram<double> _detectionDelay;
    private readonly Counter<long> _preempted;
    private readonly Histogram<double> _preemptionDecision;
    private readonly UpDownCounter<long> _evacuationsPending;
    private readonly Counter<long> _quarantines;
    private readonly Counter<long> _nodeFailures;
    private readonly GridEventFeed _events;
    private readonly CapacityView _view;
    private int _brakeEngaged;

    public GridMetrics(IMeterFactory meters, CapacityView view, GridEventFeed events)
    {
        _events = events;
        _view = view;
        var meter = meters.Create(GridTelemetry.Name);
        _placed = meter.CreateCounter<long>("grid.reservations.placed", description: "Reservations placed on a node (incl. moves).");
        _failed = meter.CreateCounter<long>("grid.reservations.failed", description: "Placements that found no node.");
        _latency = meter.CreateHistogram<double>("grid.scheduling.duration", unit: "s", description: "Time to place a reservation.", advice: GridTelemetry.Latency);
        _statusChanges = meter.CreateCounter<long>("grid.nodes.status_changes", description: "Node status transitions.");
        _moves = meter.CreateCounter<long>("grid.reservations.moved", description: "Reservations moved to another node.");
        _movesDelayed = meter.CreateCounter<long>("grid.evacuation.delayed", description: "Moves delayed by the mass-failure brake.");
        _heartbeats = meter.CreateCounter<long>("grid.heartbeats", description: "Node heartbeats received.");
        _detectionDelay = meter.CreateHistogram<double>("grid.nodes.detection_delay", unit: "s",
            description: "Time from a node's last heartbeat to it being declared down.", advice: GridTelemetry.Detection);
        _preempted = meter.CreateCounter<long>("grid.reservations.preempted", description: "Reservations preempted to make room for higher priority ones.");
        _preemptionDecision = meter.CreateHistogram<double>("grid.scheduling.preemption.duration", unit: "s",
            description: "Time to choose a preemption's node and victims (the nodes' allocations asked included).", advice: GridTelemetry.Latency);
        _evacuationsPending = meter.CreateUpDownCounter<long>("grid.evacuation.pending", description: "Moves queued or in progress.");
        _quarantines = meter.CreateCounter<long>("grid.nodes.quarantines", description: "Nodes quarantined (action=quarantined) and cleared (action=cleared).");
        _nodeFailures = meter.CreateCounter<long>("grid.nodes.workload_failures", description: "Workload failures counted against their node.");
        meter.CreateObservableGauge("grid.nodes.quarantined", () => _view.Nodes.Count(n => n.Quarantined), description: "Nodes in quarantine.");
        meter.CreateObservableGauge("grid.evacuation.brake_engaged", () => _brakeEngaged, description: "Farms/countries under the mass-failure brake.");
        meter.CreateObservableGauge("grid.nodes", () => NodesByStatus(view), description: "Known nodes by status.");
        meter.CreateObservableGauge("grid.reservations.allocated", () => AllocationsByNodeStatus(view),
            description: "Reservations held on nodes, by the node's status (down: waiting to move; draining: moving away).");
        meter.CreateObservableGauge("grid.capacity.total", () => CapacityByUnit(view, used: false), description: "Total capacity by unit.");
        meter.CreateObservableGauge("grid.capacity.used", () => CapacityByUnit(view, used: true), description: "Allocated capacity by unit.");
    }

    /// <summary>A placement (epoch 1) or the new half of a move (later epochs, whose event is the move's).</summary>
    public void Placed(TimeSpan elapsed, long nodeId, long epoch)
    {
        _placed.Add(1);
        _latency.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", "placed"));
        if (epoch <= 1)
        {
            _events.Record("placed", nodeId, null, static (node, _) => $"Reservation placed on node {node}.");
        }
    }

    /// <summary>Nothing fit; <paramref name="reason"/> is the filter that rejected the most nodes.</summary>
    public void Unplaceable(TimeSpan elapsed, string reason)
    {
        _failed.Add(1, new KeyValuePair<string, object?>("reason", reason));
        _latency.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", "unplaceable"));
    }

    /// <summary>A preemption decision (node and victims chosen, or none possible) took <paramref name="elapsed"/>.</summary>
    public void PreemptionDecided(TimeSpan elapsed) => _preemptionDecision.Record(elapsed.TotalSeconds);

    /// <summary>A placement by preemption released <paramref name="victims"/> reservations.</summary>
    public void Preempted(int victims) => _preempted.Add(victims);

    public void NodeStatusChanged(long nodeId, NodeStatus status)
    {
        var name = status.ToString().ToLowerInvariant();
        _statusChanges.Add(1, new KeyValuePair<string, object?>("status", name));
        _events.Record($"node-{name}", nodeId, null, $"Node {nodeId} is {name}.");
    }

    public void Moved(string reason, long fromNodeId, long toNodeId)
    {
        _moves.Add(1, new KeyValuePair<string, object?>("reason", reason));
        _events.Record("moved", toNodeId, fromNodeId, $"Reservation moved from node {fromNodeId} to node {toNodeId} ({reason}).");
    }

    public void Heartbeat() => _heartbeats.Add(1);

    /// <summary>Failures of a node's workloads counted against it (quarantine's count).</summary>
    public void NodeFailures(int count) => _nodeFailures.Add(count);

    /// <summary>A node quarantined (<paramref name="quarantined"/>) or cleared, with the event feed's entry.</summary>
    public void Quarantine(long nodeId, bool quarantined, string message)
    {
        var action = quarantined ? "quarantined" : "cleared";
        _quarantines.Add(1, new KeyValuePair<string, object?>("action", action));
        _events.Record(quarantined ? "node-quarantined" : "node-unquarantined", nodeId, null, message);
    }

    public void NodeDeclaredDown(TimeSpan sinceLastHeartbeat) => _detectionDelay.Record(sinceLastHeartbeat.TotalSeconds);

    public void EvacuationsQueued(int count) => _evacuationsPending.Add(count);

    public void EvacuationDone() => _evacuationsPending.Add(-1);

    public void MoveDelayed() => _movesDelayed.Add(1);

    public void SetBrakeEngaged(int count) => _brakeEngaged = count;

    /// <summary>Per farm and status (every status of a known farm is reported, zeros included, so sums are exact).</summary>
    private static IEnumerable<Measurement<long>> NodesByStatus(CapacityView view)
    {
        var counts = new Dictionary<long, long[]>();
        foreach (var node in view.Nodes)
        {
            if (!counts.TryGetValue(node.FarmId, out var farm))
            {
                counts[node.FarmId] = farm = new long[StatusNames.Length];
            }

            farm[StatusIndex(node)]++;
        }

        foreach (var (farmId, farm) in counts)
        {
            for (var i = 0; i < StatusNames.Length; i++)
            {
                yield return new(farm[i], new("status", StatusNames[i]), new("farm", farmId.ToString(CultureInfo.InvariantCulture)));
            }
        }
    }

    private static IEnumerable<Measurement<long>> AllocationsByNodeStatus(CapacityView view)
    {
        var counts = new long[StatusNames.Length];
        foreach (var node in view.Nodes)
        {
            counts[StatusIndex(node)] += node.Allocations;
        }

        for (var i = 0; i < StatusNames.Length; i++)
        {
            yield return new(counts[i], new KeyValuePair<string, object?>("node_status", StatusNames[i]));
        }
    }

    private static int StatusIndex(NodeSummary node) =>
        node.Draining ? 3 : node.Status switch { NodeStatus.Up => 0, NodeStatus.Down => 1, _ => 2 };

    private static readonly string[] StatusNames = ["up", "down", "standby", "draining"];

    private static IEnumerable<Measurement<long>> CapacityByUnit(CapacityView view, bool used)
    {
        var value = Capacity.Zero;
        foreach (var node in view.Nodes)
        {
            value += used ? node.Used : node.Total;
        }

        yield return new(value.Cru, new KeyValuePair<string, object?>("unit", "cru"));
        yield return new(value.Mru, new KeyValuePair<string, object?>("unit", "mru"));
        yield return new(value.Sru, new KeyValuePair<string, object?>("unit", "sru"));
        yield return new(value.Hru, new KeyValuePair<string, object?>("unit", "hru"));
    }
}
