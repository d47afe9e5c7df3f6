using System.Collections.Immutable;

namespace Grid.Nodes;

/// <summary>
/// What <see cref="NodeCapacity.TryAllocate"/> did with a batch of requests, by request index: the refused ones
/// already have their <see cref="Results"/> entry; <see cref="Taken"/> changed the ledger (durable once the grain
/// wrote it); <see cref="Retries"/> asked again for an epoch already held.
/// </summary>
public sealed record AllocationClaim(AllocationResult?[] Results, List<TakenAllocation> Taken, List<int> Retries)
{
    /// <summary>
    /// Asks the farm for the addresses of each taken allocation that wants some (<paramref name="allocateIps"/>), in
    /// turn; one the farm cannot serve is given back to <paramref name="held"/> and answered as short of IPv4. Each
    /// change to the ledger after an await is again one synchronous call of it.
    /// </summary>
    public async Task TakeIpsAsync(NodeCapacity held, Func<Allocation, Task<ImmutableArray<FarmIp>?>> allocateIps)
    {
        for (var t = 0; t < Taken.Count; t++)
        {
            var (index, allocation, existing) = Taken[t];
            if (allocation.Resources.Ipv4 <= 0)
            {
                continue;
            }

            if (await allocateIps(allocation) is not { } ips)
            {
                held.Restore(allocation.ReservationId, allocation, existing);
                Taken.RemoveAt(t--);
                Results[index] = new(AllocationOutcome.InsufficientIpv4, [], null, CapacityUnit.Ipv4);
                continue;
            }

            Taken[t] = Taken[t] with { Allocation = held.AttachIps(allocation, ips) };
        }
    }

    /// <summary>
    /// The answers once the claim is durable: taken ones are allocated; a retry is allocated while its epoch is
    /// still held; every answer carries <paramref name="summary"/> unless it has one already.
    /// </summary>
    public ImmutableArray<AllocationResult> Answer(ImmutableArray<AllocationRequest> requests, NodeCapacity held, NodeSummary summary)
    {
        foreach (var (i, allocation, _) in Taken)
        {
            Results[i] = new(AllocationOutcome.Allocated, allocation.PublicIps, summary) { GpuIds = allocation.GpuIds };
        }

        foreach (var i in Retries)
        {
            var request = requests[i];
            Results[i] = held.TryGet(request.ReservationId, out var current) && current.Epoch == request.Epoch
                ? new(AllocationOutcome.Allocated, current.PublicIps, summary) { GpuIds = current.GpuIds }
                : new(AllocationOutcome.NodeNotAvailable, [], summary);
        }

        return [.. Results.Select(r => r!.Summary is null ? r with { Summary = summary } : r)];
    }
}

/// <summary>An allocation a claim put in the ledger, and the entry it replaced (an older epoch), if any.</summary>
public readonly record struct TakenAllocation(int Index, Allocation Allocation, Allocation? Existing);
