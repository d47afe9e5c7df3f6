namespace Grid.Billing;

/// <summary>
/// ThreeFold's units and the price of a reservation per hour, in exact integer arithmetic (never floating point).
/// Sizes are bytes; the unit formulas use GiB:
/// CU = min(max(mru/4, cru/2), max(mru/8, cru), max(mru/2, cru/4)), SU = hru/1200 + sru/200, one IPU per IPv4.
/// </summary>
/// <remarks>
/// CU is kept as a numerator over 2^33 (8 GiB in bytes: every term of the formula is a whole number of those) and
/// SU as a numerator over 1200 GiB. The price is the exact sum rounded down to a whole minor unit once, at the end.
/// </remarks>
public static class Pricing
{
    public const long HourSeconds = 3600;

    /// <summary>Certified nodes cost this much more, as a ratio (5/4 = +25 %).</summary>
    public const long CertifiedNumerator = 5;

    public const long CertifiedDenominator = 4;

    private const long Gib = 1L << 30;
    private const long CuDenominator = 8 * Gib;
    private const long SuDenominator = 1200 * Gib;

    /// <summary>CU × 2^33 (exact).</summary>
    public static Int128 CuNumerator(Capacity resources)
    {
        Int128 mru = resources.Mru;
        Int128 cru = resources.Cru;
        var a = Max(mru * 2, cru * (CuDenominator / 2));
        var b = Max(mru, cru * CuDenominator);
        var c = Max(mru * 4, cru * (CuDenominator / 4));
        return Min(a, Min(b, c));
    }

    /// <summary>SU × 1200 GiB (exact).</summary>
    public static Int128 SuNumerator(Capacity resources) => (Int128)resources.Hru + (Int128)resources.Sru * 6;

    public static decimal Cu(Capacity resources) => Display(CuNumerator(resources), CuDenominator);

    public static decimal Su(Capacity resources) => Display(SuNumerator(resources), SuDenominator);

    /// <summary>Minor units per hour: floor((CU·cu + SU·su + IPU·ipu) × (5/4 when certified)).</summary>
    public static long PricePerHour(Capacity resources, PriceList prices, bool certified)
    {
        // Common denominator 1200 · 2^33: CU terms scale by 1200, SU terms by 8 (2^33 / 2^30).
        Int128 denominator = (Int128)CuDenominator * 1200;
        var numerator = CuNumerator(resources) * prices.Cu * 1200
            + SuNumerator(resources) * prices.Su * 8
            + (Int128)resources.Ipv4 * prices.Ipu * denominator;
        var (multiplier, divisor) = certified ? (CertifiedNumerator, CertifiedDenominator) : (1L, 1L);
        return (long)(numerator * multiplier / (denominator * divisor));
    }

    /// <summary>The denominator of shares given as parts per million.</summary>
    public const long PartsPerMillion = 1_000_000;

    /// <summary>A price per hour paying <paramref name="payPpm"/> parts per million of <paramref name="pricePerHour"/> (spot), rounded down.</summary>
    public static long Share(long pricePerHour, long payPpm) => (long)((Int128)pricePerHour * payPpm / PartsPerMillion);

    /// <summary>What <paramref name="seconds"/> at <paramref name="pricePerHour"/> cost, rounded down.</summary>
    public static long Cost(long pricePerHour, long seconds) => (long)((Int128)pricePerHour * seconds / HourSeconds);

    /// <summary>Price of <paramref name="period"/> (e.g. a cycle or 30 days), rounded down.</summary>
    public static long PriceFor(long pricePerHour, TimeSpan period) => Cost(pricePerHour, (long)period.TotalSeconds);

    /// <summary>The farmer's part of a line: floor(amount × share), the share being an exact ratio.</summary>
    public static long FarmerPart(long amount, long shareNumerator, long shareDenominator) =>
        (long)((Int128)amount * shareNumerator / shareDenominator);

    private static decimal Display(Int128 numerator, long denominator) =>
        Math.Round((decimal)(numerator * 1_000_000 / denominator) / 1_000_000m, 6);

    private static Int128 Max(Int128 a, Int128 b) => a > b ? a : b;

    private static Int128 Min(Int128 a, Int128 b) => a < b ? a : b;
}
