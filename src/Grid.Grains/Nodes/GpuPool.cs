using System.Collections.Immutable;

namespace Grid.Nodes;

/// <summary>
/// A node's GPUs as a pool of discrete ids, like a farm's IPv4 addresses: each id is held by at most one reservation
/// at a time. Pure functions over the node's devices and allocations, so the one-reservation-per-GPU rule is tested
/// without a cluster; <see cref="NodeCapacity"/> calls them inside its one synchronous check-and-take.
/// </summary>
public static class GpuPool
{
    /// <summary>The GPU ids held by allocations other than <paramref name="exceptReservationId"/>'s.</summary>
    public static HashSet<string> Held(IEnumerable<Allocation> allocations, long exceptReservationId)
    {
        var held = new HashSet<string>(StringComparer.Ordinal);
        foreach (var allocation in allocations)
        {
            if (allocation.ReservationId != exceptReservationId && !allocation.GpuIds.IsDefaultOrEmpty)
            {
                held.UnionWith(allocation.GpuIds);
            }
        }

        return held;
    }

    /// <summary>
    /// <paramref name="count"/> free GPUs matching any of <paramref name="models"/> (none: any GPU), those in
    /// <paramref name="preferred"/> first (a new epoch on the same node keeps its devices), then in the node's order;
    /// null when there are not enough.
    /// </summary>
    public static ImmutableArray<string>? Pick(
        ImmutableArray<GpuDevice> devices, IReadOnlySet<string> held, int count, ImmutableArray<string> models, ImmutableArray<string> preferred = default)
    {
        if (count <= 0)
        {
            return [];
        }

        var usable = devices.IsDefault ? [] : devices.Where(d => !held.Contains(d.Id) && Accepts(d, models)).ToList();
        if (usable.Count < count)
        {
            return null;
        }

        var keep = preferred.IsDefault ? [] : preferred;
        return [.. usable.OrderBy(d => keep.Contains(d.Id) ? 0 : 1).Take(count).Select(d => d.Id)];
    }

    /// <summary>The node's devices, each marked with the reservation holding it (null: free).</summary>
    public static ImmutableArray<GpuDevice> Annotate(ImmutableArray<GpuDevice> devices, IEnumerable<Allocation> allocations)
    {
        if (devices.IsDefaultOrEmpty)
        {
            return [];
        }

        var holder = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var allocation in allocations)
        {
            foreach (var id in allocation.GpuIds)
            {
                holder[id] = allocation.ReservationId;
            }
        }

        return [.. devices.Select(d => d with { ReservationId = holder.TryGetValue(d.Id, out var reservation) ? reservation : null })];
    }

    /// <summary>Free GPUs (of an annotated list) that match any of <paramref name="models"/> (none: any).</summary>
    public static int FreeMatching(ImmutableArray<GpuDevice> annotated, ImmutableArray<string> models) =>
        annotated.IsDefault ? 0 : annotated.Count(d => d.ReservationId is null && Accepts(d, models));

    /// <summary>True when <paramref name="device"/> is one of <paramref name="models"/> (none asked: any GPU is).</summary>
    public static bool Accepts(GpuDevice device, ImmutableArray<string> models) =>
        models.IsDefaultOrEmpty || models.Any(device.Matches);
}
