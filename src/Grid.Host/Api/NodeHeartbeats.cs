using System.Collections.Concurrent;
using Grid.Grains;
using Grid.Twins;

namespace Grid.Host.Api;

/// <summary>
/// The one heartbeat path: the HTTP endpoint and the simulated demo nodes both go through it, so the demo
/// exercises exactly what real agents do.
/// </summary>
public sealed class NodeHeartbeats(IGrainFactory grains)
{
    // Per node: the key hash its grain confirmed, and the grain reference (GetGrain reflects under a lock).
    private readonly ConcurrentDictionary<long, string> _verified = new();
    private readonly ConcurrentDictionary<long, INodeGrain> _nodes = new();

    /// <summary>The node's answer, or null when the node key does not belong to <paramref name="nodeId"/>.</summary>
    public async Task<HeartbeatResponse?> BeatAsync(long nodeId, string? nodeKey, Heartbeat heartbeat) =>
        await VerifyKeyAsync(nodeId, nodeKey) ? await BeatAsync(nodeId, heartbeat) : null;

    /// <summary>A heartbeat of a node whose caller was already authenticated as that node.</summary>
    public Task<HeartbeatResponse> BeatAsync(long nodeId, Heartbeat heartbeat) =>
        _nodes.GetOrAdd(nodeId, id => grains.GetGrain<INodeGrain>(id)).HeartbeatAsync(heartbeat);

    /// <summary>True when <paramref name="nodeKey"/> is the bearer key of <paramref name="nodeId"/>.</summary>
    public async Task<bool> VerifyKeyAsync(long nodeId, string? nodeKey)
    {
        if (!KeyHash.TryParseId(nodeKey, KeyHash.NodePrefix, out var keyNodeId) || keyNodeId != nodeId)
        {
            return false;
        }

        var hash = KeyHash.Hash(nodeKey!);
        if (!_verified.TryGetValue(nodeId, out var known) || known != hash)
        {
            if (!await _nodes.GetOrAdd(nodeId, id => grains.GetGrain<INodeGrain>(id)).VerifyKeyAsync(hash))
            {
                return false;
            }

            _verified[nodeId] = hash;
        }

        return true;
    }
}
