using System.Collections.Concurrent;

namespace Grid.Nodes;

/// <summary>
/// One shared <see cref="Capacity"/> per distinct size held by allocations: every placement's request brings its
/// own copy (56 B), and a grid of a million reservations holds a million allocations in a handful of sizes.
/// Bounded: past <see cref="Limit"/> distinct sizes a new one is kept as it comes. Capacity is immutable, so
/// sharing it changes nothing but the bytes.
/// </summary>
public static class CapacityPool
{
    /// <summary>Distinct sizes pooled at most.</summary>
    public const int Limit = 4096;

    private static readonly ConcurrentDictionary<Capacity, Capacity> Sizes = new();

    /// <summary>The pooled capacity equal to <paramref name="capacity"/>, or <paramref name="capacity"/> itself.</summary>
    public static Capacity Share(Capacity capacity) =>
        Sizes.TryGetValue(capacity, out var shared) ? shared
        : Sizes.Count < Limit ? Sizes.GetOrAdd(capacity, capacity)
        : capacity;
}
