using System.Collections.Immutable;
using Grid.Grains;

namespace Grid.Nodes;

/// <summary>Preemption on the node: the victims' release and the newcomer's allocation are one change of its ledger.</summary>
public sealed partial class NodeGrain
{
    private readonly PreemptionNotices _notices = new();

    public async Task<AllocationResult> PreemptAsync(AllocationRequest request, ImmutableArray<HeldPlacement> victims, TimeSpan notice)
    {
        // Addresses are the farm's: a request for some is not placed by preemption (the victims' addresses go back to
        // the farm only after the change, and taking new ones would await the farm while the victims are out).
        if (state.State.Registration is null || !state.State.IsSchedulable(clock.UtcNow) || request.Resources.Ipv4 > 0)
        {
            return new AllocationResult(AllocationOutcome.NodeNotAvailable, [], state.State.Registration is null ? null : Summary());
        }

        // One synchronous check, release and take before the first await: no interleaved call sees the victims gone
        // and the room free, so the node is never overbooked while it makes room.
        var now = clock.UtcNow;
        if (Allocations.TryPreempt(request, victims, now) is not { } preemption)
        {
            return new AllocationResult(AllocationOutcome.InsufficientCapacity, [], Summary(), CapacityUnit.Mru);
        }

        var (claim, released) = preemption;
        try
        {
            await Writer.WriteAsync();
        }
        catch
        {
            Allocations.Undo(claim);
            Allocations.UndoRelease(released);
            throw;
        }

        foreach (var (allocation, _) in released)
        {
            _notices.Add(allocation, now + notice);
        }

        await ForgetReleasedAsync(released, freeIps: true);
        var summary = Summary();
        PublishSummary(summary);
        LogPreempted(logger, NodeId, request.ReservationId, released.Count);
        var epochs = released.ToDictionary(r => r.Allocation.ReservationId, r => r.Allocation.Epoch);
        _ = ReturnNotice.TellAsync(GrainFactory, [.. epochs.Keys],
            reservation => reservation.PreemptedAsync(NodeId, epochs[reservation.GetPrimaryKeyLong()], request.ReservationId), () => true);
        return claim.Answer([request], Allocations, summary)[0];
    }
}
