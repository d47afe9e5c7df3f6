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
    private int _count;

    /// <summary>Known nodes (read without taking the dictionary's locks).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>A lock-free walk over the summaries; concurrent updates may or may not be seen.</summary>
    public IEnumerable<NodeSummary> Nodes
    {
        get
        {
            foreach (var (_, summary) in _nodes)
            {
                yield return summary;
            }
        }
    }

    public bool TryGet(long nodeId, out NodeSummary summary) => _nodes.TryGetValue(nodeId, out summary!);

    /// <summary>Keeps the newer of the known and the given summary.</summary>
    public void Update(NodeSummary summary)
    {
        while (true)
        {
            if (!_nodes.TryGetValue(summary.NodeId, out var known))
            {
                if (_nodes.TryAdd(summary.NodeId, summary))
                {
                    Interlocked.Increment(ref _count);
                    return;
                }
            }
            else if (known.Version >= summary.Version || _nodes.TryUpdate(summary.NodeId, summary, known))
            {
                return;
            }
        }
    }
}
