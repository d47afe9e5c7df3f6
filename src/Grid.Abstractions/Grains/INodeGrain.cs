using System.Collections.Immutable;
using Orleans.CodeGeneration;
using Orleans.Concurrency;

namespace Grid.Grains;

/// <summary>
/// One farmer machine and the authoritative ledger of its capacity: allocations keyed by reservation and
/// epoch. The grain is reentrant (its writes are group-committed); allocation is atomic because each check of
/// free capacity and its taking happen in one synchronous step before the call's first await. Key: node id.
/// </summary>
[Alias("grid.INodeGrain")]
// 2 since 0.4.0 (PreemptAsync, SetRenterAsync): a call from a silo of 0.4.0 moves an activation of 0.3.0 to a silo that has them.
[Version(2)]
public interface INodeGrain : IGrainWithIntegerKey
{
    [Alias("Register")]
    Task<NodeInfo> RegisterAsync(NodeRegistration registration, double cpuOvercommit);

    [Alias("Get")]
    Task<NodeInfo?> GetAsync();

    [Alias("GetSummary")]
    Task<NodeSummary?> GetSummaryAsync();

    [Alias("VerifyKey")]
    Task<bool> VerifyKeyAsync(string nodeKeyHash);

    /// <summary>The Ed25519 public key the node's agent signs heartbeats with, or null when it registered none.</summary>
    [Alias("GetPublicKey")]
    Task<string?> GetPublicKeyAsync();

    /// <summary>
    /// Grid time of the node's last heartbeat seen by this activation (null before the first): billing settles a
    /// period only once the node serving at its end has been heard from after it (or was declared down).
    /// </summary>
    [Alias("GetLastHeartbeat")]
    Task<DateTimeOffset?> GetLastHeartbeatAsync();

    [Alias("TryAllocate")]
    Task<AllocationResult> TryAllocateAsync(AllocationRequest request);

    /// <summary>
    /// Several allocations in one call and one durable write (a placement batch): each answered on its own, in
    /// order, as <see cref="TryAllocateAsync"/> would; a failed write fails them all.
    /// </summary>
    [Alias("TryAllocateMany")]
    Task<ImmutableArray<AllocationResult>> TryAllocateManyAsync(ImmutableArray<AllocationRequest> requests);

    /// <summary>
    /// Preemption in one step of the node's ledger: releases <paramref name="victims"/> (each still held at its epoch and
    /// preemptible by <paramref name="request"/>) and allocates <paramref name="request"/> in their room, or changes
    /// nothing. The victims' workloads get <paramref name="notice"/> before they are killed; their reservations are told.
    /// </summary>
    [Alias("Preempt")]
    Task<AllocationResult> PreemptAsync(AllocationRequest request, ImmutableArray<HeldPlacement> victims, TimeSpan notice);

    /// <summary>Frees what a reservation holds here at <paramref name="epoch"/> or older, and its IPs.</summary>
    [Alias("Release")]
    Task ReleaseAsync(long reservationId, long epoch);

    /// <summary>
    /// <see cref="ReleaseAsync"/> for many reservations in one write: what the moves off a lost node left behind
    /// (released together as they complete, instead of one write of the whole node per move).
    /// </summary>
    [Alias("ReleaseMany")]
    Task ReleaseManyAsync(ImmutableArray<HeldPlacement> placements);

    /// <summary>Replaces the workloads this node should run for a reservation at an epoch.</summary>
    [Alias("SetWorkloads")]
    Task<bool> SetWorkloadsAsync(long reservationId, long epoch, ImmutableArray<WorkloadAssignment> workloads);

    [Alias("Heartbeat")]
    Task<HeartbeatResponse> HeartbeatAsync(Heartbeat heartbeat);

    /// <summary>Declares the node down (heartbeat timeout); its reservations are moved elsewhere.</summary>
    [Alias("MarkDown")]
    Task MarkDownAsync(DateTimeOffset lastHeartbeat);

    /// <summary>
    /// Moves what a down or draining node still holds, unless a move run is under way here: asked by the index
    /// shard, so moves lost with a silo (or left behind by a failure) are found again.
    /// </summary>
    [Alias("ResumeEvacuation"), OneWay]
    Task ResumeEvacuationAsync();

    /// <summary>Answers the desired workloads once their version differs from <paramref name="knownVersion"/>, or after <paramref name="maxWait"/>.</summary>
    [Alias("WatchDesired")]
    Task<DesiredWorkloads> WatchDesiredAsync(long knownVersion, TimeSpan maxWait);

    [Alias("SetDraining")]
    Task SetDrainingAsync(bool draining, int maxParallel);

    /// <summary>
    /// Takes (<paramref name="twinId"/> set) or releases (null) the node's rent lock for <paramref name="contractId"/>, in one
    /// synchronous check-and-change: a rent needs no other twin's reservation on the node; while held,
    /// <see cref="TryAllocateAsync"/> refuses every other twin.
    /// </summary>
    [Alias("SetRenter")]
    Task<RentLockAnswer> SetRenterAsync(long? twinId, long contractId);

    /// <summary>Ends the node's quarantine and forgets its counted failures; null when the node is not registered.</summary>
    [Alias("ClearQuarantine")]
    Task<NodeInfo?> ClearQuarantineAsync();

    /// <summary>The gateway route table changed to <paramref name="version"/>: a gateway node wakes its agent's long-poll.</summary>
    [Alias("RoutesChanged"), OneWay]
    Task RoutesChangedAsync(long version);
}
