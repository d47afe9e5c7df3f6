using System.Collections.Immutable;

namespace Grid.Billing;

/// <summary>
/// The postings of a bill: the tenant pays the amount, each line's farmer gets floor(line × share), the grid's
/// account the remainder (with the whole of a line whose farmer is the grid), so the postings always sum to exactly zero.
/// </summary>
public static class Payouts
{
    public static ImmutableArray<Posting> Of(Bill bill, Func<BillLine, long> farmerOf, (long Numerator, long Denominator) share)
    {
        var postings = ImmutableArray.CreateBuilder<Posting>();
        postings.Add(new Posting(bill.TwinId, -bill.Amount));
        var farmers = new Dictionary<long, long>();
        var paid = 0L;
        foreach (var line in bill.Lines)
        {
            var farmer = farmerOf(line);
            if (farmer == Money.GridAccountId)
            {
                // A line no farm served (a name's hours): the grid keeps it whole, in the remainder.
                continue;
            }

            var part = Pricing.FarmerPart(line.Amount, share.Numerator, share.Denominator);
            farmers[farmer] = farmers.GetValueOrDefault(farmer) + part;
            paid += part;
        }

        foreach (var (farmer, amount) in farmers.Where(f => f.Value != 0).OrderBy(f => f.Key))
        {
            postings.Add(new Posting(farmer, amount));
        }

        if (bill.Amount - paid != 0)
        {
            postings.Add(new Posting(Money.GridAccountId, bill.Amount - paid));
        }

        return postings.ToImmutable();
    }

    public static LedgerAppend Entry(Bill bill, ImmutableArray<Posting> postings) =>
        new(bill.BillId, LedgerKinds.Bill, "grid", bill.Name is { } name ? $"name:{name}" : BillingEvents.Reservation(bill.ReservationId),
            bill.Amount, postings, BillingEvents.Details(bill));
}
