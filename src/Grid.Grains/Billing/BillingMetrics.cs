using System.Collections.Immutable;
using System.Diagnostics.Metrics;
using Grid.Telemetry;

namespace Grid.Billing;

/// <summary>
/// Billing on the <c>Grid.Orleans</c> meter: bills and billed amount by farm, credits paid out (to farmers and to
/// the grid), and the reservations and accounts this silo put in grace (net of resumes). The grace figures are
/// up-down counters: their sum over the silos is the grid's figure.
/// </summary>
public sealed class BillingMetrics
{
    private readonly Counter<long> _bills;
    private readonly Counter<long> _billed;
    private readonly Counter<long> _credits;
    private readonly UpDownCounter<long> _grace;
    private readonly UpDownCounter<long> _accountsInGrace;

    public BillingMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(GridTelemetry.Name);
        _bills = meter.CreateCounter<long>("grid.billing.bills", description: "Bill lines appended to the ledger, by farm.");
        _billed = meter.CreateCounter<long>("grid.billing.billed", unit: "{minor unit}", description: "Amount billed, by farm.");
        _credits = meter.CreateCounter<long>("grid.billing.credits", unit: "{minor unit}", description: "Amount credited (farmers and the grid).");
        _grace = meter.CreateUpDownCounter<long>("grid.billing.grace", description: "Reservations put in grace minus those resumed or cancelled.");
        _accountsInGrace = meter.CreateUpDownCounter<long>("grid.billing.accounts_in_grace",
            description: "Twins with at least one reservation in grace (out of funds).");
    }

    public void Billed(ImmutableArray<Posting> postings, Bill bill)
    {
        foreach (var line in bill.Lines)
        {
            var farm = new KeyValuePair<string, object?>("farm", line.FarmId);
            _bills.Add(1, farm);
            _billed.Add(line.Amount, farm);
        }

        foreach (var credit in postings.Where(p => p.Amount > 0))
        {
            _credits.Add(credit.Amount, new KeyValuePair<string, object?>("to", credit.AccountId == Money.GridAccountId ? "grid" : "farmer"));
        }
    }

    public void GraceEntered() => _grace.Add(1);

    public void GraceLeft() => _grace.Add(-1);

    public void AccountGraceEntered() => _accountsInGrace.Add(1);

    public void AccountGraceLeft() => _accountsInGrace.Add(-1);
}
