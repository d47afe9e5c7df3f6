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
    private readonly ConcurrentDictionary<long, (string Hash, INodeGrain Node)> _verified = new();

    /// <summary>The node's answer, or null when the node key does not belong to <paramref name="nodeId"/>.</summary>
    public async Task<HeartbeatResponse?> BeatAsync(long nodeId, string? nodeKey, Heartbeat heartbeat)
    {
        if (!KeyHash.TryParseId(nodeKey, KeyHash.NodePrefix, out var keyNodeId) || keyNodeId != nodeId)
        {
            return null;
        }

        var hash = KeyHash.Hash(nodeKey!);
        if (!_verified.TryGetValue(nodeId, out var known) || known.Hash != hash)
        {
            var node = grains.GetGrain<INodeGrain>(nodeId);
            if (!await node.VerifyKeyAsync(hash))
            {
                return null;
            }

            known = (hash, node);
            _verified[nodeId] = known;
        }

        return await known.Node.HeartbeatAsync(heartbeat);
    }
}
