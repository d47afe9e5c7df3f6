using System.Collections.Immutable;
using System.Text.Json;
using Grid.Billing;
using Grid.Grains;
using Grid.Ledger;
using Grid.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Grid.Reservations;

/// <summary>
/// Metering and billing of a reservation (see <see cref="ReservationMeter"/>). The state machine calls the
/// <c>On…</c> hooks before its durable writes, so the meter changes with the placement it describes; ledger
/// events ride in the same write (<see cref="ReservationMeter.Pending"/>) and are appended after it.
/// </summary>
public sealed partial class ReservationGrain
{
    private IGrainTimer? _settleRetry;

    private ReservationMeter Meter => Record.Meter;

    // The silo's appender batches this silo's appends into one ledger call.
    private LedgerAppender Ledger => ServiceProvider.GetRequiredService<LedgerAppender>();

    public Task<ImmutableArray<Bill>> GetBillsAsync() => Task.FromResult(Meter.Bills.AsEnumerable().Reverse().ToImmutableArray());

    public async Task<bool> BillDueAsync()
    {
        if (!Exists)
        {
            // Listed in its bucket before a placement whose write then failed: nothing to bill, ever (or listed
            // for a placement still writing: retired now, so that placement fails rather than go unbilled).
            return !await GoneAsync();
        }

        await FlushLedgerAsync();
        if (Record.State == ReservationState.Cancelled)
        {
            await FinalBillAsync();
            return !Meter.Closed;
        }

        await BillPeriodsAsync(clock.UtcNow - billing.Value.SettleDelay, settled: true);
        if (Record.State == ReservationState.Grace)
        {
            if (clock.UtcNow >= Meter.GraceSince + billing.Value.GracePeriod)
            {
                await CancelAsync(BillingEvents.CauseOutOfFunds);
                return false;
            }

            await ResumeIfFundedAsync();
        }

        return true;
    }

    public async Task<bool> ResumeIfFundedAsync()
    {
        if (!Exists || Record.State != ReservationState.Grace)
        {
            return true;
        }

        var balance = await BalanceAsync();
        if (balance < 0)
        {
            return false;
        }

        Record.State = ReservationState.Active;
        Meter.Start(Record.NodeId!.Value, clock.UtcNow);
        Meter.GraceSince = null;
        Meter.Pending.Add(BillingEvents.Resumed(ReservationId, Record.Request!.TwinId, Meter.GraceCount));
        AddEvent("resumed", Record.NodeId, $"Balance {billing.Value.Format(balance)} covers the unpaid bill; workloads run again.");
        await state.WriteOrDeactivateAsync(this);
        billingMetrics.GraceLeft();
        await PushWorkloadsAsync();
        await GrainFactory.GetGrain<ITwinBillingGrain>(Record.Request.TwinId).RemoveGraceAsync(ReservationId);
        await FlushLedgerAsync();
        return true;
    }

    /// <summary>A node was declared down: its service ended at its last heartbeat, not when the loss was noticed.</summary>
    private void OnNodeLost(long nodeId, DateTimeOffset? lastHeartbeat)
    {
        if (Meter.Open is { } open && open.NodeId == nodeId)
        {
            Meter.Stop(lastHeartbeat is { } seen && seen < clock.UtcNow ? seen : clock.UtcNow);
        }
    }

    /// <summary>A move: the old placement stops being billed now (make-before-break bills only the new one).</summary>
    private void OnMoved(long fromNodeId, Placement placement, long epoch)
    {
        var now = clock.UtcNow;
        Meter.Stop(now);
        var repriced = placement.FarmId != Meter.FarmId;
        if (repriced)
        {
            Meter.PricePerHour = placement.PricePerHour;
            Meter.FarmId = placement.FarmId;
            Meter.FarmerTwinId = placement.FarmerTwinId;
        }

        if (Record.State is ReservationState.Active or ReservationState.Migrating)
        {
            Meter.Start(placement.NodeId, now);
        }

        Meter.Pending.Add(BillingEvents.Moved(ReservationId, fromNodeId, placement.NodeId, placement.FarmId, epoch, Meter.PricePerHour, repriced,
            placement.PublicIps));
    }

    private void OnServingAgain(long nodeId) => Meter.Start(nodeId, clock.UtcNow);

    private void OnCancelling(string cause)
    {
        var now = clock.UtcNow;
        Meter.Stop(now);
        Meter.CancelledAt = ReservationMeter.Second(now);
        Meter.CancelCause = cause;
        Meter.Pending.Add(BillingEvents.Cancelled(ReservationId, Record.Request!.TwinId, cause));
        if (Record.State == ReservationState.Grace)
        {
            // Grace ends here too (expiry or the tenant's cancel), else the grace gauge only ever grows.
            billingMetrics.GraceLeft();
        }
    }

    /// <summary>After a cancel: every period up to the cancel, then the last partial one; then nothing more.</summary>
    private async Task FinalBillAsync()
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
        await state.WriteOrDeactivateAsync(this);
        if (Meter.CancelCause == BillingEvents.CauseOutOfFunds)
        {
            await GrainFactory.GetGrain<ITwinBillingGrain>(Record.Request!.TwinId).RemoveGraceAsync(ReservationId);
        }
    }

    /// <summary>
    /// Bills each period that ended by <paramref name="until"/>. With <paramref name="settled"/>, a period the meter
    /// is still running across is billed only once the node serving it has been heard from after its end: a node
    /// that went silent before the end and is declared down later (past the settle delay) then has its meter
    /// stopped at its last heartbeat first, so no bill covers time it did not serve. Otherwise the period waits
    /// (retried after <see cref="BillingOptions.TickInterval"/>, and at the next cycle's tick in any case).
    /// </summary>
    private async Task BillPeriodsAsync(DateTimeOffset until, bool settled = false)
    {
        DateTimeOffset? heard = null;
        for (var next = billing.Value.NextBoundary(ReservationId, Meter.BilledUntil); next <= until;
             next = billing.Value.NextBoundary(ReservationId, Meter.BilledUntil))
        {
            if (settled && Meter.Open is { } open && open.From < next)
            {
                heard ??= await GrainFactory.GetGrain<INodeGrain>(open.NodeId).GetLastHeartbeatAsync();
                if (heard is null || heard < next)
                {
                    LogSettleDeferred(logger, ReservationId, open.NodeId, next);
                    _settleRetry ??= this.RegisterGrainTimer(RetrySettleAsync, billing.Value.TickInterval, Timeout.InfiniteTimeSpan);
                    return;
                }
            }

            await BillAsync(next);
        }
    }

    private async Task RetrySettleAsync(CancellationToken cancellationToken)
    {
        _settleRetry?.Dispose();
        _settleRetry = null;
        await BillDueAsync();
    }

    /// <summary>
    /// Bills <c>(BilledUntil, to]</c>: one ledger entry with the debit and the credits, then the cursor. When the
    /// ledger already holds the bill id (appended before a crash that lost the cursor), its bill is adopted.
    /// </summary>
    private async Task BillAsync(DateTimeOffset to)
    {
        var bill = Meter.Compute(ReservationId, Record.Request!.TwinId, Record.Request.Resources, to);
        if (bill is not null)
        {
            var append = Payouts.Entry(bill, Payouts.Of(bill, Meter.FarmerOf, billing.Value.FarmerShareRatio));
            var entry = await Ledger.AppendAsync(append);
            if (entry.Details != append.Details && entry.Details is { } details)
            {
                bill = JsonSerializer.Deserialize<Bill>(details, BillingEvents.Json)!;
                LogBillAdopted(logger, bill.BillId, bill.To);
            }

            billingMetrics.Billed(entry.Postings, bill);
        }

        Meter.Advance(bill?.To ?? to, bill);
        await state.WriteOrDeactivateAsync(this);
        if (bill is not null && billing.Value.Mode == BillingMode.Prepaid && Record.State == ReservationState.Active
            && await BalanceAsync() < 0)
        {
            await EnterGraceAsync();
        }
    }

    private async Task EnterGraceAsync()
    {
        var now = clock.UtcNow;
        Meter.Stop(now);
        Meter.GraceCount++;
        Meter.GraceSince = now;
        Record.State = ReservationState.Grace;
        Meter.Pending.Add(BillingEvents.Grace(ReservationId, Record.Request!.TwinId, Meter.GraceCount));
        AddEvent("grace", Record.NodeId,
            $"Bill unpaid; workloads stopped, capacity and addresses kept until {now + billing.Value.GracePeriod:u} unless a deposit covers it.");
        await GrainFactory.GetGrain<ITwinBillingGrain>(Record.Request.TwinId).AddGraceAsync(ReservationId);
        await state.WriteOrDeactivateAsync(this);
        billingMetrics.GraceEntered();
        await PushWorkloadsAsync();
        await FlushLedgerAsync();
    }

    private async Task<long> BalanceAsync() => (await GrainFactory.GetGrain<IAccountGrain>(Record.Request!.TwinId).GetAsync()).Balance;

    /// <summary>Appends the events recorded with the last write; a failure leaves them for the next attempt (ids dedupe).</summary>
    private async Task FlushLedgerAsync()
    {
        try
        {
            while (Meter.Pending.Count > 0)
            {
                // Removed by identity: a placement's flush may still run beside this one (same entry twice is
                // harmless, the ledger dedupes by event id; removing another's entry unappended is not).
                var next = Meter.Pending[0];
                await Ledger.AppendAsync(next);
                Meter.Pending.Remove(next);
            }
        }
        catch (Exception exception)
        {
            LogLedgerDeferred(logger, exception, ReservationId);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reservation {ReservationId}: period to {To} waits until node {NodeId} is heard from after it or declared down")]
    private static partial void LogSettleDeferred(ILogger logger, long reservationId, long nodeId, DateTimeOffset to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger already held {BillId} (to {To}): cursor re-derived from it")]
    private static partial void LogBillAdopted(ILogger logger, string billId, DateTimeOffset to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger events of reservation {ReservationId} deferred to its next billing tick")]
    private static partial void LogLedgerDeferred(ILogger logger, Exception exception, long reservationId);
}
