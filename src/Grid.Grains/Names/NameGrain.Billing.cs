using System.Collections.Immutable;
using Grid.Billing;
using Microsoft.Extensions.Logging;

namespace Grid.Names;

/// <summary>
/// A name's billing, the way a reservation is billed (<see cref="Payouts"/>, one ledger entry per bill through the
/// silo's appender, the cursor written after the append): the owner pays the name's hours at
/// <see cref="BillingOptions.NamePrice"/> (the grid keeps them: every gateway serves every name, so no farm served
/// them alone) and the bytes each gateway node proxied at its farm's network price, of which that farm's owner earns
/// <see cref="BillingOptions.FarmerShare"/>. A reminder per claimed name drives the periods; a release bills the last
/// partial one.
/// </summary>
public sealed partial class NameGrain
{
    private const string BillingReminder = "name-billing";

    /// <summary>Orleans' shortest reminder period; a shorter cycle is billed a minute late at most.</summary>
    private static readonly TimeSpan MinimumReminderPeriod = TimeSpan.FromMinutes(1);

    private NameMeter Meter => Record.Meter;

    private BillingOptions BillingOptions => billing.Options.Value;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Record.TwinId != 0 && Meter.TwinId == 0)
        {
            // Claimed before names were billed: billing starts now (not at the claim, which was free when made).
            Meter.Start(Record.TwinId, clock.UtcNow);
            await state.WriteStateAsync(cancellationToken);
            await StartBillingAsync();
        }
    }

    public async Task<ImmutableArray<Bill>> BillDueAsync()
    {
        if (Record.TwinId == 0)
        {
            await StopBillingAsync();
            return [];
        }

        return await BillUntilAsync(clock.UtcNow, final: false);
    }

    public Task<ImmutableArray<Bill>?> GetBillsAsync(long twinId) =>
        Task.FromResult<ImmutableArray<Bill>?>(twinId != 0 && Meter.TwinId == twinId ? [.. Meter.Bills.AsEnumerable().Reverse()] : null);

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        try
        {
            await BillDueAsync();
        }
        catch (Exception exception)
        {
            // The next reminder tick bills the same periods (the bill ids are the same, the ledger keeps each once).
            LogBillingFailed(logger, exception, Name);
        }
    }

    private async Task StartBillingAsync()
    {
        var cycle = BillingOptions.Cycle;
        var period = cycle < MinimumReminderPeriod ? MinimumReminderPeriod : cycle;
        var due = Meter.NextBoundary(cycle) - clock.UtcNow + TimeSpan.FromSeconds(5);
        await this.RegisterOrUpdateReminder(BillingReminder, due < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : due, period);
    }

    private async Task StopBillingAsync()
    {
        if (await this.GetReminder(BillingReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    /// <summary>
    /// Bills each full period that ended by <paramref name="until"/>; with <paramref name="final"/>, then the partial
    /// period up to it and whatever traffic still waits (a release).
    /// </summary>
    private async Task<ImmutableArray<Bill>> BillUntilAsync(DateTimeOffset until, bool final)
    {
        var made = ImmutableArray.CreateBuilder<Bill>();
        var cycle = BillingOptions.Cycle;
        for (var next = Meter.NextBoundary(cycle); next <= until; next = Meter.NextBoundary(cycle))
        {
            if (await BillAsync(next) is { } bill)
            {
                made.Add(bill);
            }
        }

        if (final && await BillAsync(ReservationMeter.Second(until)) is { } last)
        {
            made.Add(last);
        }

        return made.ToImmutable();
    }

    /// <summary>
    /// Bills <c>(BilledUntil, to]</c>: one ledger entry with the debit and the credits, then the cursor. When the
    /// ledger already holds the bill id (appended before a lost write), the stored bill is adopted.
    /// </summary>
    private async Task<Bill?> BillAsync(DateTimeOffset to)
    {
        var bill = Meter.Compute(Name, Record.Claim, Record.TwinId, to, BillingOptions.NamePrice, prices.NetworkPriceOf);

        // Nothing to pay (a name released within a second or so of its claim, traffic worth less than a minor unit):
        // no ledger entry, whose postings could only be zero; the cursor still moves past what was counted.
        if (bill is { Amount: 0 })
        {
            Meter.Advance(bill.To, bill);
            await state.WriteOrDeactivateAsync(this);
            return null;
        }

        if (bill is not null)
        {
            (bill, var adopted) = await billing.RecordAsync(bill, Meter.FarmerOf);
            if (adopted)
            {
                LogBillAdopted(logger, bill.BillId, bill.To);
            }
        }

        Meter.Advance(bill?.To ?? to, bill);
        await state.WriteOrDeactivateAsync(this);
        return bill;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Billing name {Name} failed; its next reminder tick bills the same periods")]
    private static partial void LogBillingFailed(ILogger logger, Exception exception, string name);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger already held {BillId} (to {To}): the name's cursor re-derived from it")]
    private static partial void LogBillAdopted(ILogger logger, string billId, DateTimeOffset to);
}
