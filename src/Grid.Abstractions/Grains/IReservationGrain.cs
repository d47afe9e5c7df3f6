using System.Collections.Immutable;
using Orleans.CodeGeneration;
using Orleans.Concurrency;

namespace Grid.Grains;

/// <summary>A tenant's claim on capacity and its placement state machine. Key: reservation id.</summary>
[Alias("grid.IReservationGrain")]
// 2 since 0.4.0 (PreemptedAsync, RentChangedAsync): a call from a silo of 0.4.0 moves an activation of 0.3.0 to a silo that has them.
[Version(2)]
public interface IReservationGrain : IGrainWithIntegerKey
{
    /// <summary>Places the reservation and answers after the placement is durable; stores nothing if nothing fits.</summary>
    [Alias("Create")]
    Task<ReservationOutcome> CreateAsync(ReservationRequest request);

    [Alias("Get")]
    Task<ReservationInfo?> GetAsync();

    [Alias("Cancel")]
    Task<bool> CancelAsync();

    /// <summary>
    /// Adds a workload. <paramref name="auth"/> (a container's pull credentials) is kept in memory only, by
    /// <see cref="IPullCredentialsGrain"/>, and handed to the nodes in their assignments.
    /// </summary>
    [Alias("AddWorkload")]
    Task<WorkloadInfo> AddWorkloadAsync(long workloadId, WorkloadSpec spec, PullCredentials? auth = null);

    [Alias("RemoveWorkload")]
    Task RemoveWorkloadAsync(long workloadId);

    /// <summary>
    /// Deletes one of its workloads, as a cancel deletes them all: the reservation lets go of it first (its event
    /// written, the node told), then the workload is marked deleted.
    /// </summary>
    [Alias("DeleteWorkload")]
    Task DeleteWorkloadAsync(long workloadId);

    [Alias("GetEvents")]
    Task<ImmutableArray<ReservationEvent>> GetEventsAsync();

    /// <summary>
    /// True while the reservation holds a placement on the node at exactly that epoch (asked by the node's orphan
    /// check, so it interleaves). A placement of that epoch in flight is waited for: denied, it would lose its
    /// allocation; confirmed, an allocation it then left on another node would never be asked about again.
    /// </summary>
    [Alias("IsPlacedOn")]
    [AlwaysInterleave]
    Task<bool> IsPlacedOnAsync(long nodeId, long epoch);

    /// <summary>
    /// True while the reservation holds the public address (at any epoch: moves inside a farm keep it), its
    /// previous placement is at that epoch, or it is placing that epoch right now (read by the farm's leak check).
    /// </summary>
    [Alias("HoldsIp")]
    [AlwaysInterleave]
    Task<bool> HoldsIpAsync(string ip, long epoch);

    /// <summary>
    /// Told by a node grain that the node was lost or drained: re-place with the next epoch. A lost node's last
    /// heartbeat is when its service (and the reservation's meter) ended.
    /// </summary>
    [Alias("Evacuate")]
    Task<bool> EvacuateAsync(long nodeId, bool makeBeforeBreak, DateTimeOffset? lastHeartbeat = null);

    /// <summary>
    /// <see cref="EvacuateAsync"/> off a lost node, leaving the release of the lost node to the caller: answers the
    /// epoch to release there once this reservation moved (the caller releases many at once), or 0 when there is
    /// nothing for the caller to release (not moved, or already released here).
    /// </summary>
    [Alias("MoveOffLostNode")]
    Task<long> MoveOffLostNodeAsync(long nodeId, DateTimeOffset? lastHeartbeat);

    /// <summary>The node came back: a reservation that could not leave it (pinned or unschedulable) is active again.</summary>
    /// <summary>
    /// Node <paramref name="nodeId"/> released this reservation's <paramref name="epoch"/> to make room for reservation
    /// <paramref name="byReservationId"/>: billing stops; it is placed again elsewhere once its workloads' notice is over.
    /// </summary>
    [Alias("Preempted")]
    Task PreemptedAsync(long nodeId, long epoch, long byReservationId);

    [Alias("NodeReturned")]
    Task NodeReturnedAsync(long nodeId);

    /// <summary>
    /// Bills every period due by grid time (exactly once: deterministic bill ids, cursor moved after the ledger
    /// append), and the final bill after a cancel. False when there is nothing more to bill, ever.
    /// </summary>
    [Alias("BillDue")]
    Task<bool> BillDueAsync();

    /// <summary>In grace: back to active if the tenant's balance now covers the unpaid bill. False while still unpaid.</summary>
    [Alias("ResumeIfFunded")]
    Task<bool> ResumeIfFundedAsync();

    /// <summary>The reservation's recent bills, newest first.</summary>
    [Alias("GetBills")]
    Task<ImmutableArray<Bill>> GetBillsAsync();

    /// <summary>A workload reported running at an epoch; completes a make-before-break move once all do.</summary>
    /// <summary>
    /// The twin's rent of <paramref name="nodeId"/> began (<paramref name="rented"/>) or ended: while the reservation is
    /// there its meter stays stopped (the rent pays for the whole node).
    /// </summary>
    [Alias("RentChanged")]
    Task RentChangedAsync(long nodeId, bool rented);

    [Alias("WorkloadRunning")]
    Task WorkloadRunningAsync(long workloadId, long epoch);
}
