using System.Collections.Concurrent;
using System.Security.Cryptography;
using Grid.Grains;
using Grid.Twins;

namespace Grid.Host.Api;

/// <summary>
/// The one heartbeat path: the HTTP endpoint and the simulated demo nodes both go through it, so the demo
/// exercises exactly what real agents do.
/// </summary>
public sealed class NodeHeartbeats(IGrainFactory grains)
{
    // Per node: the SHA-256 of the key its grain confirmed, and the grain reference (GetGrain reflects under a lock).
    private readonly ConcurrentDictionary<long, byte[]> _verified = new();
    private readonly ConcurrentDictionary<long, INodeGrain> _nodes = new();

    /// <summary>The node's answer, or null when the node key does not belong to <paramref name="nodeId"/>.</summary>
    public async Task<HeartbeatResponse?> BeatAsync(long nodeId, string? nodeKey, Heartbeat heartbeat) =>
        await VerifyKeyAsync(nodeId, nodeKey) ? await BeatAsync(nodeId, heartbeat) : null;

    /// <summary>A heartbeat of a node whose caller was already authenticated as that node.</summary>
    public Task<HeartbeatResponse> BeatAsync(long nodeId, Heartbeat heartbeat) => Node(nodeId).HeartbeatAsync(heartbeat);

    /// <summary>
    /// True when <paramref name="nodeKey"/> is the bearer key of <paramref name="nodeId"/>. Every request hashes the
    /// key it brings and compares it, in constant time, with the hash the node's grain confirmed; only a key not seen
    /// before asks the grain. The hash is computed on the stack: this runs for every heartbeat.
    /// </summary>
    public ValueTask<bool> VerifyKeyAsync(long nodeId, string? nodeKey)
    {
        if (!KeyHash.TryParseId(nodeKey, KeyHash.NodePrefix, out var keyNodeId) || keyNodeId != nodeId)
        {
            return ValueTask.FromResult(false);
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        KeyHash.HashInto(nodeKey, hash);
        return _verified.TryGetValue(nodeId, out var known) && CryptographicOperations.FixedTimeEquals(known, hash)
            ? ValueTask.FromResult(true)
            : AskNodeAsync(nodeId, hash.ToArray());
    }

    private async ValueTask<bool> AskNodeAsync(long nodeId, byte[] hash)
    {
        if (!await Node(nodeId).VerifyKeyAsync(Convert.ToHexStringLower(hash)))
        {
            return false;
        }

        _verified[nodeId] = hash;
        return true;
    }

    private INodeGrain Node(long nodeId) => _nodes.GetOrAdd(nodeId, static (id, grains) => grains.GetGrain<INodeGrain>(id), grains);
}
