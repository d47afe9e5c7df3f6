using System.Collections.Immutable;
using Grid.Billing;
using Grid.Grains;
using Grid.Scheduling;
using Microsoft.Extensions.Logging;

namespace Grid.Reservations;

/// <summary>
/// Metering and billing of one reservation (see <see cref="ReservationMeter"/>), for its grain. The grain calls the
/// <c>On…</c> hooks before its durable writes, so the meter changes with the placement it describes; ledger events
/// ride in the same write (<see cref="ReservationMeter.Pending"/>) and are appended after it
/// (<see cref="FlushLedgerAsync"/>).
/// </summary>
/// <param name="reservationId">The reservation billed.</param>
/// <param name="store">Its record and the one way to write it.</param>
/// <param name="services">Billing settings, metrics, the ledger and the clock.</param>
/// <param name="grains">For the tenant's account and grace list, and the node's last heartbeat.</param>
/// <param name="pushWorkloads">Tells the node what runs now (nothing in grace): the grain's own push.</param>
/// <param name="logger">The grain's logger.</param>
public sealed partial class ReservationBilling(
    long reservationId,
    ReservationStore store,
    ReservationBillingServices services,
    IGrainFactory grains,
    Func<Task> pushWorkloads,
    ILogger logger)
{
    // Whether this activation's flushes asked the ledger which pending events it already holds (the first one does).
    private bool _pendingChecked;

    private ReservationRecord Record => store.Record;

    private ReservationMeter Meter => Record.Meter;

    private BillingOptions Options => services.Options.Value;

    /// <summary>Grid time (the reservation's clock).</summary>
    public DateTimeOffset Now => services.Clock.UtcNow;

    public ImmutableArray<Bill> Bills => [.. Meter.Bills.AsEnumerable().Reverse()];

    /// <summary>The final bill of a cancelled reservation is done: nothing more, ever.</summary>
    public bool Closed => Meter.Closed;

    /// <summary>In grace for the whole grace period: the reservation is cancelled for lack of funds.</summary>
    public bool GraceOver => Now >= Meter.GraceSince + Options.GracePeriod;

    /// <summary>A node was declared down: its service ended at its last heartbeat, not when the loss was noticed.</summary>
    public void OnNodeLost(long nodeId, DateTimeOffset? lastHeartbeat)
    {
        if (Meter.Open is { } open && open.NodeId == nodeId)
        {
            var now = Now;
            Meter.Stop(lastHeartbeat is { } seen && seen < now ? seen : now);
        }
    }

    /// <summary>A move: the old placement stops being billed now (make-before-break bills only the new one).</summary>
    public void OnMoved(long fromNodeId, Placement placement, long epoch)
    {
        var now = Now;
        Meter.Stop(now);
        var repriced = placement.FarmId != Meter.FarmId;
        if (repriced)
        {
            Meter.PricePerHour = placement.PricePerHour;
            Meter.FarmId = placement.FarmId;
            Meter.FarmerTwinId = placement.FarmerTwinId;
        }

        Meter.RentedNodeId = placement.OnRentedNode ? placement.NodeId : null;
        if (Record.State is ReservationState.Active or ReservationState.Migrating)
        {
            Meter.Start(placement.NodeId, now);
        }

        Meter.Pending.Add(BillingEvents.Moved(reservationId, fromNodeId, placement.NodeId, placement.FarmId, epoch, Meter.PricePerHour, repriced,
            placement.PublicIps));
    }

    public void OnServingAgain(long nodeId) => Meter.Start(nodeId, Now);

    /// <summary>
    /// The twin's rent of <paramref name="nodeId"/> began or ended while the reservation is there: the meter stops (the
    /// rent pays) or starts again (when active). True when anything changed.
    /// </summary>
    public bool OnRentChanged(long nodeId, bool rented)
    {
        if (Record.NodeId != nodeId || (Meter.RentedNodeId == nodeId) == rented)
        {
            return false;
        }

        var now = Now;
        Meter.Stop(now);
        Meter.RentedNodeId = rented ? nodeId : null;
        if (!rented && Record.State is ReservationState.Active or ReservationState.Migrating)
        {
            Meter.Start(nodeId, now);
        }

        return true;
    }

    /// <summary>Preempted: billing stops now (answered), until the reservation is placed again.</summary>
    public DateTimeOffset OnPreempted()
    {
        var now = Now;
        Meter.Stop(now);
        return now;
    }

    public void OnCancelling(string cause)
    {
        var now = Now;
        Meter.Stop(now);
        Meter.CancelledAt = ReservationMeter.Second(now);
        Meter.CancelCause = cause;
        Meter.Pending.Add(BillingEvents.Cancelled(reservationId, Record.Request!.TwinId, cause));
        if (Record.State == ReservationState.Grace)
        {
            // Grace ends here too (expiry or the tenant's cancel), else the grace gauge only ever grows.
            services.Metrics.GraceLeft();
        }
    }

    /// <summary>
    /// Bills each period that ended by the settle delay. A period the meter is still running across is billed only
    /// once the node serving it has been heard from after its end: a node that went silent before the end and is
    /// declared down later (past the settle delay) then has its meter stopped at its last heartbeat first, so no bill
    /// covers time it did not serve. Otherwise the period waits: false, and the grain asks again after
    /// <see cref="BillingOptions.TickInterval"/> (and at the next cycle's tick in any case).
    /// </summary>
    public Task<bool> BillSettledAsync() => BillPeriodsAsync(Now - Options.SettleDelay, settled: true);

    /// <summary>After a cancel: every period up to the cancel, then the last partial one; then nothing more.</summary>
    public async Task FinalBillAsync()
    {
        if (Meter.Closed || Meter.CancelledAt is not { } at)
        {
            return;
        }

        await BillPeriodsAsync(at);
        if (at > Meter.BilledUntil)
        {
            await BillAsync(at);
        }

        Meter.Closed = true;
        await store.WriteAsync();
        if (Meter.CancelCause == BillingEvents.CauseOutOfFunds)
        {
            await grains.GetGrain<ITwinBillingGrain>(Record.Request!.TwinId).RemoveGraceAsync(reservationId);
        }
    }

    /// <summary>In grace: back to active if the tenant's balance now covers the unpaid bill. False while still unpaid.</summary>
    public async Task<bool> ResumeIfFundedAsync()
    {
        if (!store.Exists || !ReservationLifecycle.Allows(Record.State, ReservationTrigger.Funded))
        {
            return true;
        }

        var balance = await BalanceAsync();
        if (balance < 0)
        {
            return false;
        }

        store.Fire(ReservationTrigger.Funded);
        Meter.Start(Record.NodeId!.Value, Now);
        Meter.GraceSince = null;
        Meter.Pending.Add(BillingEvents.Resumed(reservationId, Record.Request!.TwinId, Meter.GraceCount));
        store.AddEvent("resumed", Record.NodeId, $"Balance {Options.Format(balance)} covers the unpaid bill; workloads run again.");
        await store.WriteAsync();
        services.Metrics.GraceLeft();
        await pushWorkloads();
        await grains.GetGrain<ITwinBillingGrain>(Record.Request.TwinId).RemoveGraceAsync(reservationId);
        await FlushLedgerAsync();
        return true;
    }

    /// <summary>Appends the events recorded with the last write; a failure leaves them for the next attempt (ids dedupe).</summary>
    public async Task FlushLedgerAsync()
    {
        try
        {
            if (!_pendingChecked && Meter.Pending.Count > 0)
            {
                // The first flush of an activation: its events were written by an earlier activation or the placer (a
                // new record's "placed" event, which the placer appends after its write), so the ledger may hold
                // them. Appended again, an id the ledger grain forgot (it remembers its last 100,000) reaches the
                // store, which refuses the whole group commit it rides in: at a million reservations, every
                // reservation's first billing tick did. Asked first, they are dropped here.
                var held = await services.Ledger.HeldAsync([.. Meter.Pending.Select(p => p.EventId)]);
                Meter.Pending.RemoveAll(p => held.Contains(p.EventId));
            }

            _pendingChecked = true;
            while (Meter.Pending.Count > 0)
            {
                // Removed by identity: a placement's flush may still run beside this one (same entry twice is
                // harmless, the ledger dedupes by event id; removing another's entry unappended is not).
                var next = Meter.Pending[0];
                await services.Ledger.AppendAsync(next);
                Meter.Pending.Remove(next);
            }
        }
        catch (Exception exception)
        {
            LogLedgerDeferred(logger, exception, reservationId);
        }
    }

    /// <summary>Bills each period that ended by <paramref name="until"/>; false when a period waits for its node (<see cref="BillSettledAsync"/>).</summary>
    private async Task<bool> BillPeriodsAsync(DateTimeOffset until, bool settled = false)
    {
        DateTimeOffset? heard = null;
        for (var next = Options.NextBoundary(reservationId, Meter.BilledUntil); next <= until;
             next = Options.NextBoundary(reservationId, Meter.BilledUntil))
        {
            if (settled && Meter.Open is { } open && open.From < next)
            {
                heard ??= await grains.GetGrain<INodeGrain>(open.NodeId).GetLastHeartbeatAsync();
                if (heard is null || heard < next)
                {
                    LogSettleDeferred(logger, reservationId, open.NodeId, next);
                    return false;
                }
            }

            await BillAsync(next);
        }

        return true;
    }

    /// <summary>
    /// Bills <c>(BilledUntil, to]</c>: one ledger entry with the debit and the credits, then the cursor. When the
    /// ledger already holds the bill id (appended before a crash that lost the cursor), its bill is adopted.
    /// </summary>
    private async Task BillAsync(DateTimeOffset to)
    {
        var bill = Meter.Compute(reservationId, Record.Request!.TwinId, Record.Request.Resources, to);
        if (bill is not null)
        {
            (bill, var adopted) = await services.RecordAsync(bill, Meter.FarmerOf, ProviderCut.Of(Record.Request));
            if (adopted)
            {
                LogBillAdopted(logger, bill.BillId, bill.To);
            }
        }

        Meter.Advance(bill?.To ?? to, bill);
        await store.WriteAsync();
        if (bill is not null && Options.Mode == BillingMode.Prepaid && ReservationLifecycle.Allows(Record.State, ReservationTrigger.Unpaid)
            && await BalanceAsync() < 0)
        {
            await EnterGraceAsync();
        }
    }

    private async Task EnterGraceAsync()
    {
        var now = Now;
        Meter.Stop(now);
        Meter.GraceCount++;
        Meter.GraceSince = now;
        store.Fire(ReservationTrigger.Unpaid);
        Meter.Pending.Add(BillingEvents.Grace(reservationId, Record.Request!.TwinId, Meter.GraceCount));
        store.AddEvent("grace", Record.NodeId,
            $"Bill unpaid; workloads stopped, capacity and addresses kept until {now + Options.GracePeriod:u} unless a deposit covers it.");
        await grains.GetGrain<ITwinBillingGrain>(Record.Request.TwinId).AddGraceAsync(reservationId);
        await store.WriteAsync();
        services.Metrics.GraceEntered();
        await pushWorkloads();
        await FlushLedgerAsync();
    }

    private async Task<long> BalanceAsync() => (await grains.GetGrain<IAccountGrain>(Record.Request!.TwinId).GetAsync()).Balance;

    [LoggerMessage(Level = LogLevel.Information, Message = "Reservation {ReservationId}: period to {To} waits until node {NodeId} is heard from after it or declared down")]
    private static partial void LogSettleDeferred(ILogger logger, long reservationId, long nodeId, DateTimeOffset to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger already held {BillId} (to {To}): cursor re-derived from it")]
    private static partial void LogBillAdopted(ILogger logger, string billId, DateTimeOffset to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger events of reservation {ReservationId} deferred to its next billing tick")]
    private static partial void LogLedgerDeferred(ILogger logger, Exception exception, long reservationId);
}
