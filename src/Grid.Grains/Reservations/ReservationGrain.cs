using System.Collections.Immutable;
using Grid.Billing;
using Grid.Grains;
using Grid.Scheduling;
using Grid.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Reservations;

/// <summary>
/// A reservation: orchestrates its placement, moves, workloads and cancel over its lifecycle
/// (<see cref="ReservationLifecycle"/>: <c>active → (migrating → active)* → cancelled</c>, <c>unschedulable</c> while
/// nothing fits (retried with backoff), <c>lost</c> for a pinned reservation whose node is down, <c>grace</c> while a
/// prepaid bill is unpaid). Its record is written only through <see cref="ReservationStore"/>, its meter and bills are
/// <see cref="ReservationBilling"/>'s, its moves, migrations and retries <see cref="ReservationMoves"/>' (on the grain's
/// timers and reminder, through <see cref="IReservationTimers"/>). Every answer that acknowledges a change is given after the change is durable.
/// Reservations are called rarely (create, read, cancel, a move), so an idle one leaves memory after a few minutes
/// rather than Orleans' default quarter hour: a silo holds a million reservations in storage, not as activations.
/// </summary>
[CollectionAgeLimit(Minutes = 5)]
public sealed class ReservationGrain : Grain, IReservationGrain, IRemindable, IIncomingGrainCallFilter, IReservationTimers
{
    private readonly ReservationStore _store;
    private readonly IReservationPlacement _placement;
    private readonly ReservationBillingServices _billingServices;
    private readonly IOptions<GridHealthOptions> _health;
    private readonly IOptions<GridSchedulingOptions> _scheduling;
    private readonly GridMetrics _metrics;
    private readonly ILogger<ReservationGrain> _logger;
    private ReservationBilling? _billing;
    private ReservationMoves? _moves;
    private ReservationCredentials? _credentials;
    private IGrainTimer? _settleRetry;

    public ReservationGrain(
        [PersistentState(ReservationStore.StateName, GridStorage.Name)] IPersistentState<ReservationRecord> state,
        IReservationPlacement placement,
        ReservationBillingServices billing,
        IOptions<GridHealthOptions> health,
        IOptions<GridSchedulingOptions> scheduling,
        GridMetrics metrics,
        ILogger<ReservationGrain> logger)
    {
        _scheduling = scheduling;
        _store = new ReservationStore(state, this, billing.Clock);
        _placement = placement;
        _billingServices = billing;
        _health = health;
        _metrics = metrics;
        _logger = logger;
    }

    private long ReservationId => this.GetPrimaryKeyLong();

    private ReservationRecord Record => _store.Record;

    private ReservationBilling Billing => _billing ??= new(ReservationId, _store, _billingServices, GrainFactory, PushWorkloadsAsync, _logger);

    private ReservationMoves Moves => _moves ??=
        new(ReservationId, _store, _placement, Billing, _metrics, _logger, GrainFactory, this, _health.Value.RetryBackoff, Credentials,
            _scheduling.Value.PreemptionNotice);

    private ReservationCredentials Credentials => _credentials ??= new(GrainFactory);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        Moves.Resume();
        return Task.CompletedTask;
    }

    /// <summary>An activation that found no record may be older than the placer's insert: see <see cref="ReservationStore.BeforeCallAsync"/>.</summary>
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        await _store.BeforeCallAsync();
        await context.Invoke();
    }

    public async Task<ReservationOutcome> CreateAsync(ReservationRequest request)
    {
        if (_store.Exists)
        {
            return new(Info(), null);
        }

        if (_store.Retired)
        {
            throw new GridRequestException(409, "Reservation id retired",
                $"Reservation {ReservationId} was given up before its placement completed; create it again with a new Idempotency-Key.");
        }

        return await _store.CreateAsync(() => _placement.PlaceAsync(ReservationId, request));
    }

    public Task<ReservationInfo?> GetAsync() => Task.FromResult(_store.Exists ? Info() : null);

    public Task<bool> CancelAsync() => CancelAsync(BillingEvents.CauseTenant);

    private async Task<bool> CancelAsync(string cause)
    {
        if (!_store.Exists)
        {
            return false;
        }

        var (nodeId, epoch, previous) = (Record.NodeId, Record.Epoch, Record.PreviousNodeId);
        if (ReservationLifecycle.Allows(Record.State, ReservationTrigger.Cancel))
        {
            // The previous node of a move in progress is kept, so a retried cancel releases it again too.
            Billing.OnCancelling(cause);
            _store.Fire(ReservationTrigger.Cancel);
            _store.AddEvent("cancelled", nodeId, cause == BillingEvents.CauseTenant ? "Cancelled by the tenant." : "Cancelled: grace period over, out of funds.");
            await _store.WriteAsync();
            await Billing.FlushLedgerAsync();
            await Moves.StopRetryingAsync();
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
        releases.Add(Credentials.ForgetAsync(Record.Workloads.Keys));
        await Task.WhenAll(releases);
        await Billing.FinalBillAsync();
        return true;
    }

    public async Task<WorkloadInfo> AddWorkloadAsync(long workloadId, WorkloadSpec spec, PullCredentials? auth = null)
    {
        EnsureServing();
        ReservationStorage.Check(ReservationId, Record, spec);
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

        await Credentials.KeepAsync(workloadId, spec, auth);
        var workload = await GrainFactory.GetGrain<IWorkloadGrain>(workloadId)
            .CreateAsync(ReservationId, Record.Request.TwinId, spec, Record.NodeId, Record.Epoch);
        Record.Workloads[workloadId] = spec;
        _store.AddEvent("workload-added", Record.NodeId, $"Workload {workloadId} ({spec.Name}) added.");
        await _store.WriteAsync();
        await PushWorkloadsAsync();
        return workload;
    }

    public async Task RemoveWorkloadAsync(long workloadId)
    {
        if (Record.Workloads.Remove(workloadId))
        {
            _store.AddEvent("workload-removed", Record.NodeId, $"Workload {workloadId} removed.");
            await _store.WriteAsync();
            await PushWorkloadsAsync();
        }
    }

    public async Task DeleteWorkloadAsync(long workloadId)
    {
        // The cancel's order for one workload: the reservation's durable write and the node's new list first, so
        // the workload is never listed as running somewhere after it reads as deleted.
        await RemoveWorkloadAsync(workloadId);
        await GrainFactory.GetGrain<IWorkloadGrain>(workloadId).DeleteAsync();
        await Credentials.ForgetAsync([workloadId]);
    }

    public Task<ImmutableArray<ReservationEvent>> GetEventsAsync() => Task.FromResult(Record.Events.ToImmutableArray());

    public async Task<bool> IsPlacedOnAsync(long nodeId, long epoch)
    {
        // A placement of this epoch under way may land on the asking node or on another one (a retried create, a
        // move): the node takes a "yes" as final and never asks again, so the answer waits for where it landed.
        for (var placing = _store.PlacedAsync(epoch); !placing.IsCompleted; placing = _store.PlacedAsync(epoch))
        {
            await placing;
        }

        return (_store.Holding
                && ((Record.NodeId == nodeId && Record.Epoch == epoch) || (Record.PreviousNodeId == nodeId && Record.PreviousEpoch == epoch)))
            || (!_store.Exists && !await _store.GoneAsync());
    }

    // Any epoch: a move inside the farm keeps the reservation's addresses, re-tagged to the new epoch.
    public async Task<bool> HoldsIpAsync(string ip, long epoch) =>
        _store.IsPlacing(epoch) || (_store.Holding
            && (Record.PublicIps.Any(held => held.Ip == ip) || (Record.PreviousNodeId is not null && Record.PreviousEpoch == epoch)))
        || (!_store.Exists && !await _store.GoneAsync());

    public Task<bool> EvacuateAsync(long nodeId, bool makeBeforeBreak, DateTimeOffset? lastHeartbeat = null) =>
        Moves.EvacuateAsync(nodeId, makeBeforeBreak, lastHeartbeat);

    public Task<long> MoveOffLostNodeAsync(long nodeId, DateTimeOffset? lastHeartbeat) => Moves.MoveOffLostNodeAsync(nodeId, lastHeartbeat);

    public Task PreemptedAsync(long nodeId, long epoch, long byReservationId) => Moves.PreemptedAsync(nodeId, epoch, byReservationId);

    public async Task NodeReturnedAsync(long nodeId)
    {
        if (_store.Exists && Record.NodeId == nodeId && ReservationLifecycle.Allows(Record.State, ReservationTrigger.NodeReturned))
        {
            _store.Fire(ReservationTrigger.NodeReturned);
            Billing.OnServingAgain(nodeId);
            _store.AddEvent("node-returned", nodeId, $"Node {nodeId} is back; serving from it again.");
            await _store.WriteAsync();
            await Moves.StopRetryingAsync();
        }
    }

    public async Task RentChangedAsync(long nodeId, bool rented)
    {
        if (_store.Exists && !Billing.Closed && Billing.OnRentChanged(nodeId, rented))
        {
            _store.AddEvent(rented ? "rent-started" : "rent-ended", nodeId, rented
                ? $"Node {nodeId} is rented by this twin: the rent pays for it, this reservation is not billed there."
                : $"The rent of node {nodeId} ended: this reservation is billed again.");
            await _store.WriteAsync();
        }
    }

    public async Task WorkloadRunningAsync(long workloadId, long epoch)
    {
        if (!ReservationLifecycle.Allows(Record.State, ReservationTrigger.MigrationDone) || epoch != Record.Epoch)
        {
            return;
        }

        var running = await Task.WhenAll(Record.Workloads.Keys.Select(id => GrainFactory.GetGrain<IWorkloadGrain>(id).GetAsync()));
        // A type no node runs (unsupported) never will: waiting for it would only hold the old node until the timeout.
        if (running.All(w => w is null || (w.State is (WorkloadState.Running or WorkloadState.Unsupported) && w.Epoch == epoch)))
        {
            await Moves.CompleteMigrationAsync("new copies running");
        }
    }

    public Task<ImmutableArray<Bill>> GetBillsAsync() => Task.FromResult(Billing.Bills);

    public async Task<bool> BillDueAsync()
    {
        if (!_store.Exists)
        {
            // Listed in its bucket before a placement whose write then failed: nothing to bill, ever (or listed
            // for a placement still writing: retired now, so that placement fails rather than go unbilled).
            return !await _store.GoneAsync();
        }

        await Billing.FlushLedgerAsync();
        if (Record.State == ReservationState.Cancelled)
        {
            await Billing.FinalBillAsync();
            return !Billing.Closed;
        }

        if (!await Billing.BillSettledAsync())
        {
            _settleRetry ??= this.RegisterGrainTimer(RetrySettleAsync, _billingServices.Options.Value.TickInterval, Timeout.InfiniteTimeSpan);
        }

        if (Record.State == ReservationState.Grace)
        {
            if (Billing.GraceOver)
            {
                await CancelAsync(BillingEvents.CauseOutOfFunds);
                return false;
            }

            await Billing.ResumeIfFundedAsync();
        }

        return true;
    }

    public Task<bool> ResumeIfFundedAsync() => Billing.ResumeIfFundedAsync();

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == ReservationMoves.RetryReminder)
        {
            await Moves.RetryPlacementAsync();
        }
    }

    IGrainTimer IReservationTimers.StartTimer(Func<Task> callback, TimeSpan dueTime) =>
        this.RegisterGrainTimer(_ => callback(), dueTime, Timeout.InfiniteTimeSpan);

    Task IReservationTimers.KeepReminderAsync(string name, TimeSpan period) => this.RegisterOrUpdateReminder(name, period, period);

    async Task IReservationTimers.StopReminderAsync(string name)
    {
        if (await this.GetReminder(name) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    private async Task RetrySettleAsync(CancellationToken cancellationToken)
    {
        _settleRetry?.Dispose();
        _settleRetry = null;
        await BillDueAsync();
    }

    private async Task PushWorkloadsAsync()
    {
        if (Record.NodeId is { } node)
        {
            var assignments = Record.Assignments(ReservationId, Record.Epoch, await Credentials.LookupAsync(Record.Workloads));
            await GrainFactory.GetGrain<INodeGrain>(node).SetWorkloadsAsync(ReservationId, Record.Epoch, assignments);
        }
    }

    private void EnsureServing()
    {
        if (!_store.Holding)
        {
            throw new GridRequestException(409, "Reservation not active",
                $"Reservation {ReservationId} is {(_store.Exists ? Record.State.ToString().ToLowerInvariant() : "unknown")}.");
        }
    }

    private ReservationInfo Info() => Record.ToInfo(ReservationId);
}
