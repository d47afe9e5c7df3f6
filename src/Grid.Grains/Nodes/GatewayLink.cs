using Grid.Grains;

namespace Grid.Nodes;

/// <summary>
/// A gateway node's side of the route table: a node whose agent reports the <c>gateway</c> feature and a gateway
/// address syncs the table with each heartbeat (sending its health reports along) and answers it to the agent; a new
/// version told by the table wakes the agent's long-poll (<see cref="DesiredWatch"/>), whose next heartbeat fetches it.
/// </summary>
public sealed class GatewayLink(long nodeId, IGrainFactory grains, DesiredWatch watch)
{
    private GatewayRoutes? _routes;
    private long _wokenFor;

    /// <summary>Whether the heartbeat is a gateway node's.</summary>
    public static bool IsGateway(Heartbeat heartbeat) =>
        heartbeat.GatewayAddress is not null && heartbeat.Features is { } features && features.Contains(NodeFeatures.Gateway);

    /// <summary>The routes to answer <paramref name="heartbeat"/> with: null for a node that is no gateway.</summary>
    public async Task<GatewayRoutes?> SyncAsync(Heartbeat heartbeat)
    {
        if (!IsGateway(heartbeat))
        {
            _routes = null;
            return null;
        }

        var fresh = await grains.GetGrain<IGatewayRoutesGrain>(0).SyncAsync(nodeId, _routes?.Version ?? -1, heartbeat.Health);
        _routes = fresh ?? _routes;
        return _routes;
    }

    /// <summary>
    /// Applies the heartbeat's traffic report once: a sequence above <see cref="NodeState.TrafficApplied"/> is counted by
    /// each name's grain (which also refuses a sequence it already counted from this node, so a write of the node that
    /// failed after the names counted cannot count twice), then the node's new high-water mark is written by
    /// <paramref name="write"/>. Answers the sequence to acknowledge.
    /// </summary>
    public async Task<long> ApplyTrafficAsync(Heartbeat heartbeat, NodeState state, Func<Task> write)
    {
        var registration = state.Registration!;
        var carrier = new TrafficCarrier(nodeId, registration.FarmId, registration.TwinId);
        var sequence = heartbeat.TrafficSequence;
        if (sequence <= state.TrafficApplied)
        {
            return state.TrafficApplied;
        }

        await Task.WhenAll((heartbeat.Traffic ?? []).GroupBy(t => t.Name, StringComparer.Ordinal).Select(name =>
            grains.GetGrain<INameGrain>(name.Key).AddTrafficAsync(carrier, sequence, name.Sum(t => t.BytesIn), name.Sum(t => t.BytesOut))));
        state.TrafficApplied = Math.Max(state.TrafficApplied, sequence);
        await write();
        return state.TrafficApplied;
    }

    /// <summary>The table is at <paramref name="version"/> now: wakes the agent if it serves an older one.</summary>
    public void Changed(long version)
    {
        if (_routes is { } held && held.Version != version && version != _wokenFor)
        {
            _wokenFor = version;
            watch.Changed();
        }
    }
}
