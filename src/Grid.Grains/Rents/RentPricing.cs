using Grid.Billing;

namespace Grid.Rents;

/// <summary>
/// The price of a rented node: its whole capacity (cru, mru, sru, hru; no addresses) at the farm's prices (+25 % when
/// certified, as any reservation), less the dedicated discount, rounded down once. Integer arithmetic only.
/// </summary>
public static class RentPricing
{
    /// <summary>Minor units per hour: floor(list price of the whole node × (10^6 − discount ppm) / 10^6).</summary>
    public static long PricePerHour(Capacity total, PriceList prices, bool certified, int discountPpm)
    {
        var list = Pricing.PricePerHour(total with { Ipv4 = 0 }, prices, certified);
        var kept = ProviderCut.PartsPerMillion - Math.Clamp(discountPpm, 0, ProviderCut.PartsPerMillion);
        return (long)((Int128)list * kept / ProviderCut.PartsPerMillion);
    }
}
