using Grid.Billing;

namespace Grid.Rents;

/// <summary>
/// The price of a rented node: its whole capacity (cru, mru, sru, hru; no addresses) at the farm's prices (+25 % when
/// certified, as any reservation) and its GPUs at the grid's GPU-hour price, less the dedicated discount, rounded down
/// once. Integer arithmetic only.
/// </summary>
public static class RentPricing
{
    /// <summary>
    /// Minor units per hour: floor(list price of the whole node × (10^6 − discount ppm) / 10^6). The renter's
    /// reservations on the node are not metered (their GPU lines neither), so the node's GPUs are in its rent.
    /// </summary>
    public static long PricePerHour(Capacity total, PriceList prices, bool certified, int discountPpm, long gpuPricePerHour = 0)
    {
        var list = Pricing.PricePerHour(total with { Ipv4 = 0, Gpu = 0 }, prices, certified) + checked(Math.Max(0, total.Gpu) * gpuPricePerHour);
        var kept = ProviderCut.PartsPerMillion - Math.Clamp(discountPpm, 0, ProviderCut.PartsPerMillion);
        return (long)((Int128)list * kept / ProviderCut.PartsPerMillion);
    }
}
