using System.Collections.Concurrent;

namespace Grid.Nodes;

/// <summary>
/// One shared <see cref="Capacity"/> per distinct size held by allocations: every placement's request, and every
/// allocation read back from storage when a node grain activates, brings its own copy (56 B), and a grid of a
/// million reservations holds a million allocations in a handful of sizes. Bounded: past <see cref="Limit"/>
/// distinct sizes a new one is kept as it comes. Capacity is immutable, so sharing it changes nothing but the bytes.
/// </summary>
public static class CapacityPool
{
    /// <summary>Distinct sizes pooled at most.</summary>
    public const int Limit = 4096;

    private static readonly ConcurrentDictionary<Capacity, Capacity> Sizes = new();

    // Counted here: the dictionary's own Count takes every one of its locks, on the placement path.
    private static int s_count;

    /// <summary>The pooled capacity equal to <paramref name="capacity"/>, or <paramref name="capacity"/> itself.</summary>
    public static Capacity Share(Capacity capacity)
    {
        if (Sizes.TryGetValue(capacity, out var shared))
        {
            return shared;
        }

        if (Volatile.Read(ref s_count) >= Limit)
        {
            return capacity;
        }

        if (Sizes.TryAdd(capacity, capacity))
        {
            Interlocked.Increment(ref s_count);
            return capacity;
        }

        return Sizes.TryGetValue(capacity, out shared) ? shared : capacity;
    }

    /// <summary>Makes every allocation of <paramref name="allocations"/> (a node's state just read) hold its pooled size.</summary>
    public static void ShareSizes(Dictionary<long, Allocation> allocations)
    {
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
