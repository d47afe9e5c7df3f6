using System.Collections.Concurrent;

namespace Grid.Scheduling;

/// <summary>
/// This silo's read-only replica of the node summaries held by the index shards. Candidate selection reads it
/// from memory; staleness is harmless because <c>NodeGrain.TryAllocate</c> is the authority and every answer
/// it gives (success or refusal) refreshes the replica.
/// </summary>
public sealed class CapacityView
{
    private readonly ConcurrentDictionary<long, NodeSummary> _nodes = new();

    public int Count => _nodes.Count;

    public ICollection<NodeSummary> Nodes => _nodes.Values;

    public bool TryGet(long nodeId, out NodeSummary summary) => _nodes.TryGetValue(nodeId, out summary!);

    /// <summary>Keeps the newer of the known and the given summary.</summary>
    public void Update(NodeSummary summary) =>
        _nodes.AddOrUpdate(summary.NodeId, summary, (_, known) => known.Version >= summary.Version ? known : summary);
}
