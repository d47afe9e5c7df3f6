using System.Collections.Immutable;
using Grid.Billing;
using Grid.Grains;
using Grid.Scheduling;
using Grid.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Reservations;

/// <summary>
/// A reservation's state machine: <c>active → (migrating → active)* → cancelled</c>, <c>unschedulable</c>
/// while nothing fits (retried with backoff), <c>lost</c> for a pinned reservation whose node is down.
/// Every answer that acknowledges a change is given after the change is durable. Reservations are called
/// rarely (create, read, cancel, a move), so an idle one leaves memory after a few minutes rather than
/// Orleans' default quarter hour: a silo holds a million reservations in storage, not as activations.
/// </summary>
[CollectionAgeLimit(Minutes = 5)]
public sealed partial class ReservationGrain(
    [PersistentState("reservation", GridStorage.Name)] IPersistentState<ReservationRecord> state,
    ReservationScheduler scheduler,
    GridClock clock,
    IOptions<GridHealthOptions> health,
    GridMetrics metrics,
    IOptions<BillingOptions> billing,
    BillingMetrics billingMetrics,
    ReservationPlacer placer,
    ILogger<ReservationGrain> logger) : Grain, IReservationGrain, IRemindable, IIncomingGrainCallFilter
{
    private const int MaxEvents = 200;
    private const string RetryReminder = "retry-placement";
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan MigrationTimeout = TimeSpan.FromSeconds(60);
    private IGrainTimer? _retryTimer;

    // The epoch of a placement between its allocation on a node and its durable write: the orphan and leak
    // checks (which interleave) must not take back capacity or addresses that are about to be acknowledged.
    private long? _placing;

    // The state read at activation is fresh for the call that caused it; later calls of an activation that found
    // nothing read storage again (see Invoke).
    private bool _freshRead = true;

    // While this activation's create waits for the placer: storage is about to hold the record.
    private bool _creating;

    private long ReservationId => this.GetPrimaryKeyLong();

    private ReservationRecord Record => state.State;

    private bool Exists => Record.Request is not null;

    private bool Holding => Exists && Record.State != ReservationState.Cancelled;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Record.State == ReservationState.Migrating)
        {
            ScheduleMigrationTimeout();
        }
        else if (Record.State == ReservationState.Unschedulable)
        {
            // Reactivated after a silo loss: retry at the short backoff again rather than wait for the reminder
            // (its period is the longest backoff).
            StartRetryTimer(health.Value.RetryBackoff);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// New reservations are written by the silo's <see cref="ReservationPlacer"/>, not by an activation, so an
    /// activation that found no record may be older than the record: before a call it reads storage again
    /// (cheap: only ids that were asked about before they existed, or never existed, come here).
    /// </summary>
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (!state.RecordExists && !_freshRead && !_creating)
        {
            await state.ReadStateAsync();
        }

        _freshRead = false;
        await context.Invoke();
    }

    public async Task<ReservationOutcome> CreateAsync(ReservationRequest request)
    {
        if (Exists)
        {
            return new(Info(), null);
        }

        if (state.RecordExists)
        {
            // A tombstone: asked about before any placement landed, this id answered "none" and is retired.
            throw new GridRequestException(409, "Reservation id retired",
                $"Reservation {ReservationId} was given up before its placement completed; create it again with a new Idempotency-Key.");
        }

        ReservationOutcome outcome;
        _creating = true;
        try
        {
            outcome = await WhilePlacingAsync(1, () => placer.PlaceAsync(ReservationId, request));
        }
        finally
        {
            _creating = false;
        }

        if (outcome.Reservation is not null)
        {
            // The placer wrote the record: this activation serves it from now on.
            await state.ReadStateAsync();
        }

        return outcome;
    }

    /// <summary>
    /// Before an answer that makes the caller let go of something (an allocation, an address, a billing slot):
    /// true if this reservation does not exist, and then it never will. An id with no record gets a tombstone,
    /// written insert-only, so a placement whose record has not landed yet fails instead of landing later on
    /// capacity that was let go (if it landed first, the tombstone's write fails and so does this call).
    /// </summary>
    private async Task<bool> GoneAsync()
    {
        if (Exists || _creating)
        {
            return false;
        }

        if (!state.RecordExists)
        {
            await state.WriteOrDeactivateAsync(this);
        }

        return true;
    }

    public Task<ReservationInfo?> GetAsync() => Task.FromResult(Exists ? Info() : null);

    public Task<bool> CancelAsync() => CancelAsync(BillingEvents.CauseTenant);

    private async Task<bool> CancelAsync(string cause)
    {
        if (!Exists)
        {
            return false;
        }

        var (nodeId, epoch, previous) = (Record.NodeId, Record.Epoch, Record.PreviousNodeId);
        if (Record.State != ReservationState.Cancelled)
        {
            // The previous node of a move in progress is kept, so a retried cancel releases it again too.
            OnCancelling(cause);
            Record.State = ReservationState.Cancelled;
            AddEvent("cancelled", nodeId, cause == BillingEvents.CauseTenant ? "Cancelled by the tenant." : "Cancelled: grace period over, out of funds.");
            await state.WriteOrDeactivateAsync(this);
            await FlushLedgerAsync();
            await StopRetryingAsync();
        }

        // Releases are idempotent, so a retried cancel (the first answer was lost) finishes what it started.
        var releases = new List<Task>();
        if (nodeId is { } node)
        {
            releases.Add(GrainFactory.GetGrain<INodeGrain>(node).ReleaseAsync(ReservationId, epoch));
        }

        if (previous is { } old)
        {
            releases.Add(GrainFactory.GetGrain<INodeGrain>(old).ReleaseAsync(ReservationId, epoch));
        }

        releases.AddRange(Record.Workloads.Keys.Select(id => GrainFactory.GetGrain<IWorkloadGrain>(id).DeleteAsync()));
        await Task.WhenAll(releases);
        await FinalBillAsync();
        return true;
    }

    public async Task<WorkloadInfo> AddWorkloadAsync(long workloadId, WorkloadSpec spec)
    {
        EnsureServing();
        var limit = Record.Request!.Resources with { Ipv4 = 0 };
        var used = Record.Workloads.Values.Aggregate(Capacity.Zero, (sum, w) => sum + w.Resources);
        var free = limit - used;
        if (spec.Type == WorkloadType.Process && spec.Resources == Capacity.Zero)
        {
            // A process the agent runs is held to CPU and memory limits: one deployed without resources gets what
            // is left of its reservation, never "unlimited".
            if (free.Cru <= 0 || free.Mru <= 0)
            {
                throw new GridRequestException(409, "Workload exceeds reservation",
                    $"Reservation {ReservationId} has no cru or mru left for a process workload (cru {free.Cru}, mru {free.Mru}).");
            }

            spec = spec with { Resources = free };
        }

        if (!limit.Covers(used + spec.Resources with { Ipv4 = 0 }))
        {
            throw new GridRequestException(409, "Workload exceeds reservation",
                $"Reservation {ReservationId} has cru {free.Cru}, mru {free.Mru}, sru {free.Sru}, hru {free.Hru} left for workloads.");
        }

        var workload = await GrainFactory.GetGrain<IWorkloadGrain>(workloadId)
            .CreateAsync(ReservationId, Record.Request.TwinId, spec, Record.NodeId, Record.Epoch);
        Record.Workloads[workloadId] = spec;
        AddEvent("workload-added", Record.NodeId, $"Workload {workloadId} ({spec.Name}) added.");
        await state.WriteOrDeactivateAsync(this);
        await PushWorkloadsAsync();
        return workload;
    }

    public async Task RemoveWorkloadAsync(long workloadId)
    {
        if (Record.Workloads.Remove(workloadId))
        {
            AddEvent("workload-removed", Record.NodeId, $"Workload {workloadId} removed.");
            await state.WriteOrDeactivateAsync(this);
            await PushWorkloadsAsync();
        }
    }

    public Task<ImmutableArray<ReservationEvent>> GetEventsAsync() => Task.FromResult(Record.Events.ToImmutableArray());

    public async Task<bool> IsPlacedOnAsync(long nodeId, long epoch) =>
        _placing == epoch || (Holding
            && ((Record.NodeId == nodeId && Record.Epoch == epoch) || (Record.PreviousNodeId == nodeId && Record.PreviousEpoch == epoch)))
        || (!Exists && !await GoneAsync());

    // Any epoch: a move inside the farm keeps the reservation's addresses, re-tagged to the new epoch.
    public async Task<bool> HoldsIpAsync(string ip, long epoch) =>
        _placing == epoch || (Holding
            && (Record.PublicIps.Any(held => held.Ip == ip) || (Record.PreviousNodeId is not null && Record.PreviousEpoch == epoch)))
        || (!Exists && !await GoneAsync());

    public Task<bool> EvacuateAsync(long nodeId, bool makeBeforeBreak, DateTimeOffset? lastHeartbeat = null)
    {
        if (!makeBeforeBreak)
        {
            OnNodeLost(nodeId, lastHeartbeat);
        }

        return WhilePlacingAsync(Record.Epoch + 1, async () => (await MoveAsync(nodeId, makeBeforeBreak, callerReleases: false)).Moved);
    }

    public Task<long> MoveOffLostNodeAsync(long nodeId, DateTimeOffset? lastHeartbeat)
    {
        OnNodeLost(nodeId, lastHeartbeat);
        return WhilePlacingAsync(Record.Epoch + 1, async () => (await MoveAsync(nodeId, makeBeforeBreak: false, callerReleases: true)).Release);
    }

    public async Task NodeReturnedAsync(long nodeId)
    {
        if (Exists && Record.NodeId == nodeId && Record.State is ReservationState.Lost or ReservationState.Unschedulable)
        {
            Record.State = ReservationState.Active;
            OnServingAgain(nodeId);
            AddEvent("node-returned", nodeId, $"Node {nodeId} is back; serving from it again.");
            await state.WriteOrDeactivateAsync(this);
            await StopRetryingAsync();
        }
    }

    public async Task WorkloadRunningAsync(long workloadId, long epoch)
    {
        if (Record.State != ReservationState.Migrating || epoch != Record.Epoch)
        {
            return;
        }

        var running = await Task.WhenAll(Record.Workloads.Keys.Select(id => GrainFactory.GetGrain<IWorkloadGrain>(id).GetAsync()));
        if (running.All(w => w is null || (w.State == WorkloadState.Running && w.Epoch == epoch)))
        {
            await CompleteMigrationAsync("new copies running");
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == RetryReminder)
        {
            await RetryPlacementAsync();
        }
    }

    /// <summary>Runs a placement of <paramref name="epoch"/>, which the orphan and leak checks see as held meanwhile.</summary>
    private async Task<T> WhilePlacingAsync<T>(long epoch, Func<Task<T>> place)
    {
        _placing = epoch;
        try
        {
            return await place();
        }
        finally
        {
            _placing = null;
        }
    }

    /// <summary>
    /// Moves off <paramref name="nodeId"/>. Answers whether the reservation left it (or had left it already), and
    /// with <paramref name="callerReleases"/> the epoch the caller must release there (0: nothing left to release).
    /// </summary>
    private async Task<(bool Moved, long Release)> MoveAsync(long nodeId, bool makeBeforeBreak, bool callerReleases)
    {
        if (!Exists)
        {
            return (await GoneAsync(), 0);
        }

        if (Record.State == ReservationState.Cancelled || (Record.NodeId != nodeId && Record.PreviousNodeId != nodeId))
        {
            // Asked again by a node that still holds this reservation although it moved away or was cancelled: the
            // release after the move (or cancel) was lost with a silo. Only older epochs are dropped there.
            var stale = Record.State == ReservationState.Cancelled ? Record.Epoch : Record.Epoch - 1;
            if (callerReleases)
            {
                return (true, stale);
            }

            await ReleaseQuietlyAsync(nodeId, stale);
            return (true, 0);
        }

        if (Record.NodeId != nodeId)
        {
            // The previous node of a move in progress: released when the move completes.
            return (true, 0);
        }

        if (Record.Request!.Constraints.NodeId is not null)
        {
            // In grace it stays in grace (nothing runs or is billed): lost would make its node's return activate it unpaid.
            if (!makeBeforeBreak && Record.State is not (ReservationState.Lost or ReservationState.Grace))
            {
                Record.State = ReservationState.Lost;
                AddEvent("lost", nodeId, $"Pinned to node {nodeId}, which is down; waiting for it to return.");
                await state.WriteOrDeactivateAsync(this);
            }

            return (false, 0);
        }

        var oldEpoch = Record.Epoch;
        var epoch = oldEpoch + 1;
        var assignments = Assignments(epoch);
        var (placement, report) = await scheduler.PlaceAsync(ReservationId, epoch, Record.Request, assignments, new HashSet<long> { nodeId });
        if (placement is null)
        {
            if (!makeBeforeBreak && Record.State == ReservationState.Grace)
            {
                // Stays in grace (a retry's move would make it active unpaid); the down node's evacuation asks again.
                return (false, 0);
            }

            if (!makeBeforeBreak)
            {
                Record.State = ReservationState.Unschedulable;
                AddEvent("unschedulable", nodeId, $"Node {nodeId} is down and no other node fits: {report!.Describe()}. Retrying.");
                await state.WriteOrDeactivateAsync(this);
                await ScheduleRetryAsync();
            }
            else
            {
                AddEvent("move-failed", nodeId, $"Could not move off draining node {nodeId}: {report!.Describe()}.");
                await state.WriteOrDeactivateAsync(this);
            }

            return (false, 0);
        }

        Record.NodeId = placement.NodeId;
        Record.Epoch = epoch;
        Record.PublicIps = [.. placement.PublicIps];
        Record.Retries = 0;
        var waitForWorkloads = makeBeforeBreak && Record.Workloads.Count > 0 && Record.State != ReservationState.Grace;
        Record.State = Record.State == ReservationState.Grace ? ReservationState.Grace
            : waitForWorkloads ? ReservationState.Migrating : ReservationState.Active;
        OnMoved(nodeId, placement, epoch);
        Record.PreviousNodeId = waitForWorkloads ? nodeId : null;
        Record.PreviousEpoch = waitForWorkloads ? oldEpoch : 0;
        AddEvent("moved", placement.NodeId,
            $"Moved from node {nodeId} (epoch {oldEpoch}) to node {placement.NodeId} (epoch {epoch}){(makeBeforeBreak ? ", make-before-break" : "")}.");
        await state.WriteOrDeactivateAsync(this);
        // Like the placed event: durable in the write above, on its way to the ledger after it (a lost silo's
        // events go at the next flush), so a node's evacuation does not wait for a ledger commit per move.
        _ = FlushLedgerAsync();
        metrics.Moved(makeBeforeBreak ? "drain" : "node-down", nodeId, placement.NodeId);
        LogMoved(logger, ReservationId, nodeId, placement.NodeId, epoch);
        await StopRetryingAsync();

        await Task.WhenAll(Record.Workloads.Keys.Select(id => GrainFactory.GetGrain<IWorkloadGrain>(id).PlacedAsync(placement.NodeId, epoch)));
        if (waitForWorkloads)
        {
            ScheduleMigrationTimeout();
        }
        else if (callerReleases)
        {
            return (true, oldEpoch);
        }
        else
        {
            await ReleaseQuietlyAsync(nodeId, oldEpoch);
        }

        return (true, 0);
    }

    private async Task CompleteMigrationAsync(string why)
    {
        if (Record.State != ReservationState.Migrating || Record.PreviousNodeId is not { } previous)
        {
            return;
        }

        var previousEpoch = Record.PreviousEpoch;
        Record.State = ReservationState.Active;
        Record.PreviousNodeId = null;
        AddEvent("migrated", Record.NodeId, $"Released node {previous} (epoch {previousEpoch}): {why}.");
        await state.WriteOrDeactivateAsync(this);
        await ReleaseQuietlyAsync(previous, previousEpoch);
    }

    private void ScheduleMigrationTimeout() =>
        this.RegisterGrainTimer(_ => CompleteMigrationAsync("migration timeout"), MigrationTimeout, Timeout.InfiniteTimeSpan);

    private async Task RetryPlacementAsync()
    {
        if (Record.State != ReservationState.Unschedulable || Record.NodeId is not { } nodeId)
        {
            await StopRetryingAsync();
            return;
        }

        Record.Retries++;
        await EvacuateAsync(nodeId, makeBeforeBreak: false);
    }

    private async Task ScheduleRetryAsync()
    {
        var backoff = TimeSpan.FromTicks(Math.Min(
            MaxBackoff.Ticks, health.Value.RetryBackoff.Ticks * (1L << Math.Min(Record.Retries, 10))));
        StartRetryTimer(backoff);
        // The reminder survives a silo loss; the timer gives the fast backoff in between.
        await this.RegisterOrUpdateReminder(RetryReminder, MaxBackoff, MaxBackoff);
    }

    private void StartRetryTimer(TimeSpan backoff)
    {
        _retryTimer?.Dispose();
        _retryTimer = this.RegisterGrainTimer(_ => RetryPlacementAsync(), backoff, Timeout.InfiniteTimeSpan);
    }

    private async Task StopRetryingAsync()
    {
        _retryTimer?.Dispose();
        _retryTimer = null;
        if (await this.GetReminder(RetryReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    private async Task PushWorkloadsAsync()
    {
        if (Record.NodeId is { } node)
        {
            await GrainFactory.GetGrain<INodeGrain>(node).SetWorkloadsAsync(ReservationId, Record.Epoch, Assignments(Record.Epoch));
        }
    }

    // In grace the node lists none of the reservation's workloads, so its agent stops them (capacity is kept).
    private ImmutableArray<WorkloadAssignment> Assignments(long epoch) => Record.State == ReservationState.Grace ? [] :
        [.. Record.Workloads.OrderBy(w => w.Key).Select(w => new WorkloadAssignment(w.Key, ReservationId, epoch, w.Value))];

    private async Task ReleaseQuietlyAsync(long nodeId, long epoch)
    {
        try
        {
            await GrainFactory.GetGrain<INodeGrain>(nodeId).ReleaseAsync(ReservationId, epoch);
        }
        catch (Exception exception)
        {
            // The node's orphan check releases it later: the reservation no longer points there.
            LogReleaseFailed(logger, exception, ReservationId, nodeId, epoch);
        }
    }

    private void EnsureServing()
    {
        if (!Exists || Record.State is ReservationState.Cancelled)
        {
            throw new GridRequestException(409, "Reservation not active", $"Reservation {ReservationId} is {(Exists ? "cancelled" : "unknown")}.");
        }
    }

    private void AddEvent(string kind, long? nodeId, string message)
    {
        var now = clock.UtcNow;
        Record.UpdatedAt = now;
        Record.Events.Add(new ReservationEvent(now, kind, nodeId, Record.Epoch, message));
        if (Record.Events.Count > MaxEvents)
        {
            Record.Events.RemoveRange(0, Record.Events.Count - MaxEvents);
        }
    }

    private ReservationInfo Info() => Record.ToInfo(ReservationId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reservation {ReservationId} moved from node {From} to node {To} (epoch {Epoch})")]
    private static partial void LogMoved(ILogger logger, long reservationId, long from, long to, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reservation {ReservationId} could not release node {NodeId} epoch {Epoch}")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, long reservationId, long nodeId, long epoch);
}
