using System.Diagnostics.Metrics;
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
    private int _brakeEngaged;

    public GridMetrics(IMeterFactory meters, CapacityView view)
    {
        var meter = meters.Create(GridTelemetry.Name);
        _placed = meter.CreateCounter<long>("grid.reservations.placed", description: "Reservations placed on a node (incl. moves).");
        _failed = meter.CreateCounter<long>("grid.reservations.failed", description: "Placements that found no node.");
        _latency = meter.CreateHistogram<double>("grid.scheduling.duration", unit: "s", description: "Time to place a reservation.");
        _statusChanges = meter.CreateCounter<long>("grid.nodes.status_changes", description: "Node status transitions.");
        _moves = meter.CreateCounter<long>("grid.reservations.moved", description: "Reservations moved to another node.");
        _movesDelayed = meter.CreateCounter<long>("grid.evacuation.delayed", description: "Moves delayed by the mass-failure brake.");
        meter.CreateObservableGauge("grid.evacuation.brake_engaged", () => _brakeEngaged, description: "Farms/countries under the mass-failure brake.");
        meter.CreateObservableGauge("grid.nodes", () => NodesByStatus(view), description: "Known nodes by status.");
        meter.CreateObservableGauge("grid.capacity.total", () => CapacityByUnit(view, used: false), description: "Total capacity by unit.");
        meter.CreateObservableGauge("grid.capacity.used", () => CapacityByUnit(view, used: true), description: "Allocated capacity by unit.");
    }

    public void Placed(TimeSpan elapsed)
    {
        _placed.Add(1);
        _latency.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", "placed"));
    }

    public void Unplaceable(TimeSpan elapsed)
    {
        _failed.Add(1);
        _latency.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", "unplaceable"));
    }

    public void NodeStatusChanged(NodeStatus status) =>
        _statusChanges.Add(1, new KeyValuePair<string, object?>("status", status.ToString().ToLowerInvariant()));

    public void Moved(string reason) => _moves.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void MoveDelayed() => _movesDelayed.Add(1);

    public void SetBrakeEngaged(int count) => _brakeEngaged = count;

    private static IEnumerable<Measurement<long>> NodesByStatus(CapacityView view)
    {
        var nodes = view.Nodes;
        yield return new(nodes.Count(n => n.Status == NodeStatus.Up && !n.Draining), new KeyValuePair<string, object?>("status", "up"));
        yield return new(nodes.Count(n => n.Status == NodeStatus.Down), new KeyValuePair<string, object?>("status", "down"));
        yield return new(nodes.Count(n => n.Status == NodeStatus.Standby), new KeyValuePair<string, object?>("status", "standby"));
        yield return new(nodes.Count(n => n.Draining), new KeyValuePair<string, object?>("status", "draining"));
    }

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
