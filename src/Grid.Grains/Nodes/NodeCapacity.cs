using System.Collections.Immutable;
using Grid.Scheduling;

namespace Grid.Nodes;

/// <summary>
/// The allocation ledger of one node: what it holds for each reservation (one epoch each) against its total
/// capacity. RAM and disk are never overcommitted; CPU may be, up to the farm's ratio.
/// </summary>
/// <remarks>
/// <see cref="NodeGrain"/> is <c>[Reentrant]</c> (concurrent allocations share one write), so its calls interleave
/// at every await. Atomicity therefore rests on this type: every method is synchronous and checks and changes in
/// one step, so an interleaved call sees a change whole or not at all. Changes are made in memory first and made
/// durable by the grain afterwards; one whose write failed is undone with <see cref="Undo(AllocationClaim)"/>,
/// <see cref="Restore"/> or <see cref="UndoRelease"/>, which leave alone an entry another call changed since.
/// </remarks>
/// <param name="total">What the node may give reservations: its capacity less the SSD held for its image cache.</param>
/// <param name="cpuOvercommit">How many times its logical cores may be handed out.</param>
/// <param name="allocations">The durable allocations (the grain state's own dictionary, changed in place).</param>
/// <param name="imageCacheSru">The SSD bytes held out of the node's capacity for its image cache (already taken from <paramref name="total"/>).</param>
public sealed class NodeCapacity(Capacity total, double cpuOvercommit, Dictionary<long, Allocation> allocations, long imageCacheSru = 0)
{
    private ImmutableArray<GpuDevice> _gpus = [];

    // The allocations the last desired list was built from, in the dictionary's order, and that list.
    private Allocation[]? _desiredFrom;
    private ImmutableArray<WorkloadAssignment> _desired;

    /// <summary>The node's capacity, its GPUs counted in <see cref="Capacity.Gpu"/>.</summary>
    public Capacity Total => total;

    /// <summary>The node's GPUs (the pool its allocations take ids from); setting them sets <see cref="Total"/>'s GPU count.</summary>
    public ImmutableArray<GpuDevice> Gpus
    {
        get => _gpus;
        set
        {
            _gpus = value.IsDefault ? [] : value;
            total = total with { Gpu = _gpus.Length };
        }
    }

    /// <summary>
    /// The ledger over a node's durable <paramref name="allocations"/>, made to share their sizes (<see cref="CapacityPool"/>)
    /// first: built when a node grain activates, before any call could hold one of its entries.
    /// </summary>
    public static NodeCapacity Over(Capacity total, double cpuOvercommit, Dictionary<long, Allocation> allocations, long imageCacheSru, CapacityPool? pool = null)
    {
        pool ??= CapacityPool.Shared;
        pool.ShareSizes(allocations);
        return new(total, cpuOvercommit, allocations, imageCacheSru) { Pool = pool };
    }

    /// <summary>Where new allocations take their shared size from (<see cref="CapacityPool.Shared"/> unless a test gives its own).</summary>
    public CapacityPool Pool { get; init; } = CapacityPool.Shared;

    public int Count => allocations.Count;

    public IReadOnlyCollection<long> ReservationIds => allocations.Keys;

    public IReadOnlyCollection<Allocation> Allocations => allocations.Values;

    /// <summary>
    /// True when this ledger is over <paramref name="store"/> (the grain's state object was not replaced) and holds
    /// <paramref name="cacheSru"/> for the image cache (its agent did not report another cap since).
    /// </summary>
    public bool IsOver(Dictionary<long, Allocation> store, long cacheSru) => ReferenceEquals(allocations, store) && cacheSru == imageCacheSru;

    public bool TryGet(long reservationId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Allocation? allocation) =>
        allocations.TryGetValue(reservationId, out allocation);

    /// <summary>True while <paramref name="allocation"/> is still the entry held (not released, replaced or changed).</summary>
    public bool IsCurrent(Allocation allocation) =>
        allocations.TryGetValue(allocation.ReservationId, out var current) && ReferenceEquals(current, allocation);

    public Capacity Used()
    {
        // Summed in place: a node's summary is rebuilt on every allocation, over all of its allocations.
        long cru = 0, mru = 0, sru = 0, hru = 0;
        int ipv4 = 0, gpu = 0;
        foreach (var allocation in allocations.Values)
        {
            var resources = allocation.Resources;
            (cru, mru, sru, hru, ipv4) = (cru + resources.Cru, mru + resources.Mru, sru + resources.Sru, hru + resources.Hru, ipv4 + resources.Ipv4);
            gpu += resources.Gpu;
        }

        return new Capacity(cru, mru, sru, hru, ipv4, gpu);
    }

    public Capacity Free() => CapacityMath.Free(total, Used(), cpuOvercommit);

    /// <summary>The (twin, group) keys of this node's anti-affinity groups: none for most nodes, without a pass of LINQ.</summary>
    public ImmutableArray<string> AntiAffinityKeys()
    {
        HashSet<string>? keys = null;
        foreach (var allocation in allocations.Values)
        {
            if (allocation.AntiAffinityGroup is { } group)
            {
                (keys ??= []).Add(AntiAffinity.Key(allocation.TwinId, group));
            }
        }

        return keys is null ? [] : [.. keys];
    }

    public int WorkloadCount() => allocations.Values.Sum(a => a.Workloads.IsDefault ? 0 : a.Workloads.Length);

    /// <summary>
    /// What the node's agent should run: the workloads of every allocation, each with its reservation's GPUs. Every
    /// heartbeat asks; the list is built again only when an allocation was added, removed or replaced since the last
    /// answer (allocations are immutable records, so an entry that changed is another instance), else the same
    /// instance is answered, which the desired watch compares by reference.
    /// </summary>
    public ImmutableArray<WorkloadAssignment> Desired()
    {
        if (allocations.Count == 0)
        {
            // Most nodes: nothing kept for them.
            (_desiredFrom, _desired) = (null, default);
            return [];
        }

        if (!BuiltFromCurrent())
        {
            _desiredFrom = [.. allocations.Values];
            _desired = [.. _desiredFrom.SelectMany(a => a.GpuIds.IsDefaultOrEmpty ? a.Workloads : a.Workloads.Select(w => w with { GpuIds = a.GpuIds }))];
        }

        return _desired;
    }

    /// <summary>Whether the last desired list was built from exactly the allocations held now.</summary>
    private bool BuiltFromCurrent()
    {
        if (_desiredFrom is not { } from || from.Length != allocations.Count)
        {
            return false;
        }

        var i = 0;
        foreach (var allocation in allocations.Values)
        {
            if (!ReferenceEquals(from[i++], allocation))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The node's GPUs, each marked with the reservation holding it.</summary>
    public ImmutableArray<GpuDevice> AnnotatedGpus() => GpuPool.Annotate(_gpus, allocations.Values);

    /// <summary>The epoch each workload the node should run is at, by workload id.</summary>
    public Dictionary<long, long> WorkloadEpochs() =>
        allocations.Values.SelectMany(a => a.Workloads).ToDictionary(w => w.WorkloadId, w => w.Epoch);

    /// <summary>
    /// Takes capacity for each request that fits, in order, all in this one synchronous step: a request of an
    /// epoch already held is a retry (answered as held, nothing changes); an older epoch of the same reservation
    /// is replaced, so its capacity counts as free; a twin's anti-affinity group holds one reservation per node; a node
    /// rented by a twin (<paramref name="rentedBy"/>) takes only that twin's reservations.
    /// </summary>
    public AllocationClaim TryAllocate(ImmutableArray<AllocationRequest> requests, DateTimeOffset now, long? rentedBy = null)
    {
        var claim = new AllocationClaim(new AllocationResult?[requests.Length], [], []);
        var used = Used();
        for (var i = 0; i < requests.Length; i++)
        {
            var request = requests[i];
            allocations.TryGetValue(request.ReservationId, out var existing);
            if (existing is not null && existing.Epoch == request.Epoch)
            {
                claim.Retries.Add(i);
                continue;
            }

            if (rentedBy is { } renter && request.TwinId != renter)
            {
                claim.Results[i] = new(AllocationOutcome.Rented, [], null);
                continue;
            }

            if (request.AntiAffinityGroup is { } group && allocations.Values.Any(a =>
                    a.ReservationId != request.ReservationId && a.TwinId == request.TwinId && a.AntiAffinityGroup == group))
            {
                claim.Results[i] = new(AllocationOutcome.AntiAffinity, [], null);
                continue;
            }

            var replaced = existing?.Resources ?? Capacity.Zero;
            if (CapacityMath.FirstShortfall(CapacityMath.Free(total, used - replaced, cpuOvercommit), request.Resources) is { } shortfall)
            {
                claim.Results[i] = new(AllocationOutcome.InsufficientCapacity, [], null, shortfall);
                continue;
            }

            ImmutableArray<string> gpuIds = [];
            if (request.Resources.Gpu > 0)
            {
                // Ids, not just a count: held by one reservation at a time, taken in this same synchronous step.
                if (GpuPool.Pick(_gpus, GpuPool.Held(allocations.Values, request.ReservationId), request.Resources.Gpu,
                        request.GpuModels, existing?.GpuIds ?? default) is not { } picked)
                {
                    claim.Results[i] = new(AllocationOutcome.InsufficientCapacity, [], null, CapacityUnit.Gpu);
                    continue;
                }

                gpuIds = picked;
            }

            var allocation = new Allocation(
                request.ReservationId, request.Epoch, request.TwinId, Pool.Share(request.Resources), [],
                request.AntiAffinityGroup, request.Workloads, now)
            {
                Priority = request.Priority,
                Spot = request.Spot,
                PricePerHour = request.PricePerHour,
                GpuIds = gpuIds,
            };
            allocations[request.ReservationId] = allocation;
            used = used - replaced + request.Resources;
            claim.Taken.Add(new TakenAllocation(i, allocation, existing));
        }

        return claim;
    }

    /// <summary>
    /// Preemption, in one synchronous step: when every one of <paramref name="victims"/> is still held at its epoch and
    /// may be preempted by <paramref name="request"/>, drops them and takes <paramref name="request"/> in their room.
    /// Answers the claim and what was dropped; nothing changes (null) when a victim changed or the room is not enough,
    /// so the node is never overbooked and never loses a reservation for nothing.
    /// </summary>
    public (AllocationClaim Claim, List<(Allocation Allocation, long Epoch)> Released)? TryPreempt(
        AllocationRequest request, IReadOnlyList<HeldPlacement> victims, DateTimeOffset now)
    {
        foreach (var victim in victims)
        {
            if (!allocations.TryGetValue(victim.ReservationId, out var held) || held.Epoch != victim.Epoch
                || victim.ReservationId == request.ReservationId
                || !ReservationPriority.MayPreempt(request.Priority, request.Spot, held.Priority, held.Spot))
            {
                return null;
            }
        }

        var released = Release(victims);
        var claim = TryAllocate([request], now);
        if (claim.Taken.Count == 0)
        {
            UndoRelease(released);
            return null;
        }

        return (claim, released);
    }

    /// <summary>The lowest priority held here (<see cref="ReservationPriority.Max"/> when none) and whether spot capacity is: what the summary tells preemption.</summary>
    public (int LowestPriority, bool HasSpot) Preemptible()
    {
        var (lowest, spot) = (ReservationPriority.Max, false);
        foreach (var allocation in allocations.Values)
        {
            (lowest, spot) = (Math.Min(lowest, allocation.Priority), spot || allocation.Spot);
        }

        return (lowest, spot);
    }

    /// <summary>Records the farm addresses given to a taken allocation; answers the entry that holds them.</summary>
    public Allocation AttachIps(Allocation taken, ImmutableArray<FarmIp> ips)
    {
        var withIps = taken with { PublicIps = ips };
        allocations[taken.ReservationId] = withIps;
        return withIps;
    }

    /// <summary>Replaces the workloads of the allocation held at exactly <paramref name="epoch"/>; null when none is.</summary>
    public (Allocation Updated, Allocation Previous)? SetWorkloads(long reservationId, long epoch, ImmutableArray<WorkloadAssignment> workloads)
    {
        if (!allocations.TryGetValue(reservationId, out var allocation) || allocation.Epoch != epoch)
        {
            return null;
        }

        var updated = allocation with { Workloads = workloads };
        allocations[reservationId] = updated;
        return (updated, allocation);
    }

    /// <summary>Drops what each placement holds at its epoch or older; answers what was dropped, with the epoch asked.</summary>
    public List<(Allocation Allocation, long Epoch)> Release(IEnumerable<HeldPlacement> placements)
    {
        var released = new List<(Allocation Allocation, long Epoch)>();
        foreach (var held in placements)
        {
            if (allocations.TryGetValue(held.ReservationId, out var allocation) && allocation.Epoch <= held.Epoch)
            {
                allocations.Remove(held.ReservationId);
                released.Add((allocation, held.Epoch));
            }
        }

        return released;
    }

    /// <summary>Puts back what <see cref="Release"/> dropped (its write failed), unless a call took the slot since.</summary>
    public void UndoRelease(IEnumerable<(Allocation Allocation, long Epoch)> released)
    {
        foreach (var (allocation, _) in released)
        {
            Restore(allocation.ReservationId, null, allocation);
        }
    }

    /// <summary>Undoes every allocation a claim took (its write failed).</summary>
    public void Undo(AllocationClaim claim)
    {
        // Last first: a batch asking twice for one reservation replaced its own first entry, which goes back before
        // the entry that one replaced.
        for (var t = claim.Taken.Count - 1; t >= 0; t--)
        {
            var taken = claim.Taken[t];
            Restore(taken.Allocation.ReservationId, taken.Allocation, taken.Existing);
        }
    }

    /// <summary>
    /// Sets the entry of <paramref name="reservationId"/> back to <paramref name="previous"/> (none when null), but
    /// only while it is still <paramref name="changed"/>: an interleaved call that changed it since wins.
    /// </summary>
    public void Restore(long reservationId, Allocation? changed, Allocation? previous)
    {
        allocations.TryGetValue(reservationId, out var current);
        if (!ReferenceEquals(current, changed))
        {
            return;
        }

        if (previous is null)
        {
            allocations.Remove(reservationId);
        }
        else
        {
            allocations[reservationId] = previous;
        }
    }
}
