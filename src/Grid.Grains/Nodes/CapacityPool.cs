using System.Collections.Concurrent;

namespace Grid.Nodes;

/// <summary>
/// One shared <see cref="Capacity"/> per distinct size held by allocations: every placement's request, and every
/// allocation read back from storage when a node grain activates, brings its own copy (56 B), and a grid of a
/// million reservations holds a million allocations in a handful of sizes. Bounded: once <see cref="Limit"/>
/// distinct sizes are pooled the pool starts again empty, so sizes common now are pooled again and the first sizes
/// ever seen do not hold it for good. Capacity is immutable, so sharing it changes nothing but the bytes.
/// </summary>
/// <param name="limit">Distinct sizes pooled at most.</param>
public sealed class CapacityPool(int limit = CapacityPool.Limit)
{
    /// <summary>Distinct sizes pooled at most by <see cref="Shared"/>.</summary>
    public const int Limit = 4096;

    private readonly ConcurrentDictionary<Capacity, Capacity> _sizes = new();

    // Counted here: the dictionary's own Count takes every one of its locks, on the placement path.
    private int _count;

    /// <summary>The silo's pool (node ledgers use it unless given their own).</summary>
    public static CapacityPool Shared { get; } = new();

    /// <summary>The pooled capacity equal to <paramref name="capacity"/>, or <paramref name="capacity"/> itself, now pooled.</summary>
    public Capacity Share(Capacity capacity)
    {
        ArgumentNullException.ThrowIfNull(capacity);
        if (_sizes.TryGetValue(capacity, out var shared))
        {
            return shared;
        }

        if (Volatile.Read(ref _count) >= limit)
        {
            // Racing callers may both clear: the pool only forgets sizes, never gives a wrong one.
            _sizes.Clear();
            Volatile.Write(ref _count, 0);
        }

        if (_sizes.TryAdd(capacity, capacity))
        {
            Interlocked.Increment(ref _count);
            return capacity;
        }

        return _sizes.TryGetValue(capacity, out shared) ? shared : capacity;
    }

    /// <summary>Makes every allocation of <paramref name="allocations"/> (a node's state just read) hold its pooled size.</summary>
    public void ShareSizes(Dictionary<long, Allocation> allocations)
    {
        ArgumentNullException.ThrowIfNull(allocations);
        var replaced = allocations.Values
            .Select(a => (Old: a, Size: Share(a.Resources)))
            .Where(a => !ReferenceEquals(a.Size, a.Old.Resources))
            .ToList();
        foreach (var (old, size) in replaced)
        {
            allocations[old.ReservationId] = old with { Resources = size };
        }
    }
}
