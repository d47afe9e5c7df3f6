using System.Collections.Concurrent;

namespace Grid.Scheduling;

/// <summary>
/// This silo's read-only replica of the node summaries held by the index shards. Candidate selection reads it
/// from memory; staleness is harmless because <c>NodeGrain.TryAllocate</c> is the authority and every answer
/// it gives (success or refusal) refreshes the replica.
/// </summary>
public sealed class CapacityView
{
    // Each node's summary sits in its own slot, swapped by compare-and-exchange: every allocation publishes a
    // summary, and the dictionary's TryUpdate took one of its few stripe locks for each (the hottest lock of a
    // placement profile). The dictionary itself changes only when a node is first seen.
    private readonly ConcurrentDictionary<long, Slot> _nodes = new();
    private readonly Lock _orderLock = new();
    private long[] _order = [];
    private int _count;
    private long _changes;

    /// <summary>Known nodes (read without taking the dictionary's locks).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>How many summaries were added or replaced so far: a reader's copy built at one value is current while it holds.</summary>
    public long Changes => Interlocked.Read(ref _changes);

    /// <summary>A lock-free walk over the summaries; concurrent updates may or may not be seen.</summary>
    public IEnumerable<NodeSummary> Nodes
    {
        get
        {
            foreach (var (_, slot) in _nodes)
            {
                yield return slot.Summary;
            }
        }
    }

    /// <summary>
    /// The summaries starting at a random position and wrapping around, so concurrent placements that stop
    /// early look at different parts of a large grid.
    /// </summary>
    public IEnumerable<NodeSummary> FromRandomStart()
    {
        var order = Volatile.Read(ref _order);
        if (order.Length == 0)
        {
            yield break;
        }

        var start = Random.Shared.Next(order.Length);
        for (var i = 0; i < order.Length; i++)
        {
            if (_nodes.TryGetValue(order[(start + i) % order.Length], out var slot))
            {
                yield return slot.Summary;
            }
        }
    }

    /// <summary>Every node id in the order it was first added (nodes are never removed, so a prefix never changes).</summary>
    public ReadOnlyMemory<long> InsertionOrder => Volatile.Read(ref _order);

    public bool TryGet(long nodeId, out NodeSummary summary)
    {
        var found = _nodes.TryGetValue(nodeId, out var slot);
        summary = slot?.Summary!;
        return found;
    }

    /// <summary>Keeps the newer of the known and the given summary.</summary>
    public void Update(NodeSummary summary)
    {
        if (!_nodes.TryGetValue(summary.NodeId, out var slot))
        {
            if (_nodes.TryAdd(summary.NodeId, new Slot(summary)))
            {
                Interlocked.Increment(ref _count);
                Interlocked.Increment(ref _changes);
                lock (_orderLock)
                {
                    // Copy-on-write: readers walk a stable array without locks; nodes are only ever added.
                    _order = [.. _order, summary.NodeId];
                }

                return;
            }

            slot = _nodes[summary.NodeId];
        }

        while (true)
        {
            var known = slot.Summary;
            if (known.Version >= summary.Version)
            {
                return;
            }

            if (ReferenceEquals(Interlocked.CompareExchange(ref slot.Summary, summary, known), known))
            {
                Interlocked.Increment(ref _changes);
                return;
            }
        }
    }

    private sealed class Slot(NodeSummary summary)
    {
        public NodeSummary Summary = summary;
    }
}
