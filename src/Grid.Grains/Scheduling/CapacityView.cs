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

    // The slots in the order their nodes were first seen, for walks without a dictionary lookup per node. Nodes are
    // only ever added, so a prefix never changes: an addition writes past the published count, then publishes a longer
    // one (the array doubles when full, so adding n nodes copies O(n) slots, not O(n²) as a copy per addition did).
    private Order _order = new([], 0);
    private long _changes;

    /// <summary>Known nodes (read without taking the dictionary's locks).</summary>
    public int Count => Volatile.Read(ref _order).Count;

    /// <summary>How many summaries were added or replaced so far: a reader's copy built at one value is current while it holds.</summary>
    public long Changes => Interlocked.Read(ref _changes);

    /// <summary>A lock-free walk over the summaries; concurrent updates may or may not be seen.</summary>
    public IEnumerable<NodeSummary> Nodes
    {
        get
        {
            var order = Volatile.Read(ref _order);
            for (var i = 0; i < order.Count; i++)
            {
                yield return order.Slots[i].Summary;
            }
        }
    }

    /// <summary>
    /// The summaries starting at a random position and wrapping around, so concurrent placements that stop
    /// early look at different parts of a large grid.
    /// </summary>
    public IEnumerable<NodeSummary> FromRandomStart()
    {
        // Each candidate was a dictionary lookup by id, a fifth of the scheduler's time per placement over HTTP.
        var order = Volatile.Read(ref _order);
        var (slots, count) = (order.Slots, order.Count);
        if (count == 0)
        {
            yield break;
        }

        var start = Random.Shared.Next(count);
        for (var i = start; i < count; i++)
        {
            yield return slots[i].Summary;
        }

        for (var i = 0; i < start; i++)
        {
            yield return slots[i].Summary;
        }
    }

    /// <summary>
    /// The summaries in the order their nodes were first added, as they are now (nodes are never removed, so a prefix
    /// never changes; a summary read later may be newer).
    /// </summary>
    public InsertionOrdered InsertionOrder => new(Volatile.Read(ref _order));

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
            var added = new Slot(summary);
            if (_nodes.TryAdd(summary.NodeId, added))
            {
                lock (_orderLock)
                {
                    // Readers hold an (array, count) pair: slots below their count are never written again.
                    var order = _order;
                    var slots = order.Slots;
                    if (order.Count == slots.Length)
                    {
                        Array.Resize(ref slots, Math.Max(16, slots.Length * 2));
                    }

                    slots[order.Count] = added;
                    Volatile.Write(ref _order, new Order(slots, order.Count + 1));
                }

                Interlocked.Increment(ref _changes);
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

    /// <summary>The summaries in insertion order, as a copy of the view's published count of them.</summary>
    public readonly struct InsertionOrdered
    {
        private readonly Order _order;

        internal InsertionOrdered(Order order) => _order = order;

        public int Count => _order.Count;

        /// <summary>The summary of the <paramref name="index"/>-th node added, as it is now.</summary>
        public NodeSummary this[int index] =>
            (uint)index < (uint)_order.Count ? _order.Slots[index].Summary : throw new ArgumentOutOfRangeException(nameof(index));
    }

    internal sealed class Slot(NodeSummary summary)
    {
        public NodeSummary Summary = summary;
    }

    /// <summary>The first <see cref="Count"/> slots of <see cref="Slots"/>: what readers may walk.</summary>
    internal sealed record Order(Slot[] Slots, int Count);
}
