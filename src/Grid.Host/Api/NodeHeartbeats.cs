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
    private readonly ConcurrentDictionary<long, string> _verified = new();

    /// <summary>The node's answer, or null when the node key does not belong to <paramref name="nodeId"/>.</summary>
    public async Task<HeartbeatResponse?> BeatAsync(long nodeId, string? nodeKey, Heartbeat heartbeat)
    {
        if (!KeyHash.TryParseId(nodeKey, KeyHash.NodePrefix, out var keyNodeId) || keyNodeId != nodeId)
        {
            return null;
        }

        var node = grains.GetGrain<INodeGrain>(nodeId);
        var hash = KeyHash.Hash(nodeKey!);
        if (!(_verified.TryGetValue(nodeId, out var known) && known == hash))
        {
            if (!await node.VerifyKeyAsync(hash))
            {
                return null;
            }

            _verified[nodeId] = hash;
        }

        return await node.HeartbeatAsync(heartbeat);
    }
}
