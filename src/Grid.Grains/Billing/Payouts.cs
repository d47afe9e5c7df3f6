using System.Collections.Immutable;

namespace Grid.Billing;

/// <summary>
/// The postings of a bill: the tenant pays the amount, each line's farmer gets floor(line × share), a solution
/// provider (if any) floor(the rest of the line × its share), the grid's account the remainder (with the whole of a
/// line whose farmer is the grid, less the provider's cut of it), so the postings always sum to exactly zero.
/// </summary>
public static class Payouts
{
    public static ImmutableArray<Posting> Of(
        Bill bill, Func<BillLine, long> farmerOf, (long Numerator, long Denominator) share, ProviderCut? provider = null)
    {
        var postings = ImmutableArray.CreateBuilder<Posting>();
        postings.Add(new Posting(bill.TwinId, -bill.Amount));
        var credits = new Dictionary<long, long>();
        var paid = 0L;
        foreach (var line in bill.Lines)
        {
            var farmer = farmerOf(line);
            var (farmerPart, providerPart) = Split(line, farmer, share, provider);
            if (farmer != Money.GridAccountId)
            {
                credits[farmer] = credits.GetValueOrDefault(farmer) + farmerPart;
            }

            if (provider is { } cut)
            {
                credits[cut.TwinId] = credits.GetValueOrDefault(cut.TwinId) + providerPart;
            }

            paid += farmerPart + providerPart;
        }

        foreach (var (account, amount) in credits.Where(f => f.Value != 0).OrderBy(f => f.Key))
        {
            postings.Add(new Posting(account, amount));
        }

        if (bill.Amount - paid != 0)
        {
            postings.Add(new Posting(Money.GridAccountId, bill.Amount - paid));
        }

        return postings.ToImmutable();
    }

    /// <summary>What the provider gets from <paramref name="bill"/>: the sum of its cut of each line.</summary>
    public static long ProviderAmount(Bill bill, Func<BillLine, long> farmerOf, (long Numerator, long Denominator) share, ProviderCut provider) =>
        bill.Lines.Sum(line => Split(line, farmerOf(line), share, provider).Provider);

    /// <summary>
    /// One line's farmer part (none when the grid is its farmer: a name's hours) and the provider's cut of what is left
    /// for the grid; the grid keeps the rest of the line.
    /// </summary>
    public static (long Farmer, long Provider) Split(BillLine line, long farmer, (long Numerator, long Denominator) share, ProviderCut? provider)
    {
        var farmerPart = farmer == Money.GridAccountId ? 0 : Pricing.FarmerPart(line.Amount, share.Numerator, share.Denominator);
        return (farmerPart, provider?.PartOf(line.Amount - farmerPart) ?? 0);
    }

    public static LedgerAppend Entry(Bill bill, ImmutableArray<Posting> postings) =>
        new(bill.BillId, LedgerKinds.Bill, "grid",
            bill.Name is { } name ? $"name:{name}" : bill.RentContractId is { } rent ? $"rent:{rent}" : BillingEvents.Reservation(bill.ReservationId),
            bill.Amount, postings, BillingEvents.Details(bill));
}
