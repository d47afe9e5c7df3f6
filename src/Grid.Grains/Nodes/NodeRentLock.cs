using System.Collections.Immutable;

namespace Grid.Nodes;

/// <summary>
/// The rent lock of a node, decided and changed in one synchronous step (the node grain is reentrant: no await
/// between the check and the change). A rent is refused while another contract holds the node or another twin has a
/// reservation on it; once held, <see cref="NodeCapacity.TryAllocate"/> refuses every other twin.
/// </summary>
public static class NodeRentLock
{
    /// <summary>
    /// Takes the lock for <paramref name="twinId"/> (null: releases it) under <paramref name="contractId"/>; answers the
    /// outcome and, when done, the renter's reservations on the node. Releasing a lock another contract holds (or none)
    /// changes nothing and answers <see cref="RentLockOutcome.Done"/> with no reservations.
    /// </summary>
    public static RentLockAnswer Apply(NodeState node, NodeCapacity held, long? twinId, long contractId)
    {
        if (node.Registration is null)
        {
            return new(RentLockOutcome.NotFound, null, [], null);
        }

        if (twinId is not { } renter)
        {
            if (node.RentContractId != contractId)
            {
                return new(RentLockOutcome.Done, node.RentContractId, [], null);
            }

            var renterOf = node.RentedBy;
            (node.RentedBy, node.RentContractId) = (null, null);
            return new(RentLockOutcome.Done, null, Of(held, a => a.TwinId == renterOf), null);
        }

        if (node.RentContractId is { } holder)
        {
            // The same contract again is its flow retried: idempotent.
            return holder == contractId
                ? new(RentLockOutcome.Done, holder, Of(held, a => a.TwinId == renter), null)
                : new(RentLockOutcome.RentedByOther, holder, [], null);
        }

        var others = Of(held, a => a.TwinId != renter);
        if (!others.IsEmpty)
        {
            return new(RentLockOutcome.OtherTwinsReservations, null, others, null);
        }

        (node.RentedBy, node.RentContractId) = (renter, contractId);
        return new(RentLockOutcome.Done, contractId, Of(held, _ => true), null);
    }

    /// <summary>
    /// <see cref="Apply"/>, made durable with <paramref name="write"/> when the lock changed (undone when the write
    /// fails), with the node's summary from <paramref name="publish"/> (which shows the lock to placement at once).
    /// </summary>
    public static async Task<RentLockAnswer> ApplyAsync(
        NodeState node, NodeCapacity held, long? twinId, long contractId, Func<Task> write, Func<NodeSummary> publish)
    {
        var before = (node.RentedBy, node.RentContractId);
        var answer = Apply(node, held, twinId, contractId);
        if (before != (node.RentedBy, node.RentContractId))
        {
            try
            {
                await write();
            }
            catch
            {
                (node.RentedBy, node.RentContractId) = before;
                throw;
            }
        }

        return node.Registration is null ? answer : answer with { Summary = publish() };
    }

    /// <summary>
    /// A rented node went up or down: its rent's meter follows, without waiting (a status change must not wait on
    /// billing; the rent's own ticks reconcile a lost call). Down stops it at the last heartbeat.
    /// </summary>
    public static void TellStatus(IGrainFactory grains, long nodeId, NodeState node, DateTimeOffset now, DateTimeOffset? lastHeartbeat)
    {
        if (node.RentContractId is not null && node.Status is NodeStatus.Up or NodeStatus.Down)
        {
            var up = node.Status == NodeStatus.Up;
            _ = grains.GetGrain<Grid.Grains.INodeRentGrain>(nodeId).NodeStatusAsync(up, up ? now : lastHeartbeat ?? now);
        }
    }

    private static ImmutableArray<long> Of(NodeCapacity held, Func<Allocation, bool> which) =>
        [.. held.Allocations.Where(which).Select(a => a.ReservationId).Order()];
}
