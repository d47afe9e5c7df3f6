using System.Text.Json;
using Grid.Billing;
using Grid.Ledger;
using Microsoft.Extensions.Options;

namespace Grid.Reservations;

/// <summary>The silo services a reservation's <see cref="ReservationBilling"/> uses: one constructor parameter of the grain, not four.</summary>
/// <param name="Options">Cycles, grace, settle delay and the farmers' share.</param>
/// <param name="Metrics">Bills and grace counts.</param>
/// <param name="Ledger">The silo's way into the ledger (batches this silo's appends).</param>
/// <param name="Clock">Grid time: meters, periods and grace run on it.</param>
public sealed record ReservationBillingServices(IOptions<BillingOptions> Options, BillingMetrics Metrics, LedgerAppender Ledger, GridClock Clock)
{
    /// <summary>
    /// Writes <paramref name="bill"/> as one ledger entry (the debit, each line's farmer share to
    /// <paramref name="farmerOf"/>, a solution provider its cut of the grid's part, the grid the rest) and counts it. When
    /// the ledger already held the bill id (appended before a lost cursor write), the stored bill is answered, with
    /// <c>Adopted</c> set: the caller's cursor follows it.
    /// </summary>
    public async Task<(Bill Bill, bool Adopted)> RecordAsync(Bill bill, Func<BillLine, long> farmerOf, ProviderCut? provider = null)
    {
        var share = Options.Value.FarmerShareRatio;
        if (provider is { } cut)
        {
            // On the bill itself, so its ledger details explain the provider's posting.
            bill = bill with { SolutionProvider = cut.TwinId, SolutionProviderAmount = Payouts.ProviderAmount(bill, farmerOf, share, cut) };
        }

        var append = Payouts.Entry(bill, Payouts.Of(bill, farmerOf, share, provider));
        var entry = await Ledger.AppendAsync(append);
        var adopted = entry.Details != append.Details && entry.Details is not null;
        if (adopted)
        {
            bill = JsonSerializer.Deserialize<Bill>(entry.Details!, BillingEvents.Json)!;
        }

        Metrics.Billed(entry.Postings, bill);
        return (bill, adopted);
    }
}
