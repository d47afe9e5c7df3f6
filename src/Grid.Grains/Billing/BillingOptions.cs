using System.Globalization;

namespace Grid.Billing;

public enum BillingMode
{
    /// <summary>Everything is metered, billed and paid out; a balance may go below zero; nothing is refused.</summary>
    Postpaid,

    /// <summary>A reservation needs a balance covering one cycle; an unpaid bill puts it in grace.</summary>
    Prepaid,
}

/// <summary>Billing settings, bound from <c>Grid:Billing</c>. Must be equal on every silo.</summary>
public sealed class BillingOptions
{
    public const string Section = "Grid:Billing";

    /// <summary>ISO currency code shown with amounts. Default: USD.</summary>
    public string Currency { get; set; } = "USD";

    /// <summary>How often each reservation is billed (each at its own offset within the cycle). Default: 1 h.</summary>
    public TimeSpan Cycle { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Share of each bill line paid to the owner of the farm that served it (floor). Default: 0.9.</summary>
    public decimal FarmerShare { get; set; } = 0.9m;

    /// <summary>Share taken off the price of spot capacity (preemptible): 0.6 means a spot reservation pays 40 %. Default: 0.6.</summary>
    public decimal SpotDiscount { get; set; } = 0.6m;

    /// <summary>What spot capacity pays of the full price, in parts per million (exact, from <see cref="SpotDiscount"/>).</summary>
    public long SpotPayPpm => Pricing.PartsPerMillion - (long)decimal.Round(SpotDiscount * Pricing.PartsPerMillion, 0, MidpointRounding.ToZero);

    /// <summary>Default: postpaid.</summary>
    public BillingMode Mode { get; set; } = BillingMode.Postpaid;

    /// <summary>How long an unpaid reservation stays in grace before it is cancelled (out of funds). Default: 14 days.</summary>
    public TimeSpan GracePeriod { get; set; } = TimeSpan.FromDays(14);

    /// <summary>Default price list, minor units per unit-hour. Default: CU 100,000, SU 50,000, IPU 40,000.</summary>
    public long CuPrice { get; set; } = PriceList.Default.Cu;

    /// <inheritdoc cref="CuPrice"/>
    public long SuPrice { get; set; } = PriceList.Default.Su;

    /// <inheritdoc cref="CuPrice"/>
    public long IpuPrice { get; set; } = PriceList.Default.Ipu;

    /// <summary>
    /// Network price: minor units per GB (10^9 bytes, in plus out) a gateway node proxies for a name. Default: 15,000,
    /// tfchain's NU price (see <see cref="PriceList.Default"/>). A farm's own list may set its own.
    /// </summary>
    public long NetworkPrice { get; set; } = PriceList.Default.Nu!.Value;

    /// <summary>
    /// Minor units per hour a gateway name is held (billed per second). Default: 2,500, tfchain's unique-name price
    /// (see <see cref="PriceList.Default"/>). Grid-wide: every gateway serves every name.
    /// </summary>
    public long NamePrice { get; set; } = PriceList.Default.Name!.Value;

    /// <summary>
    /// What a rented (dedicated) node's whole capacity costs less than the farm's prices, as a fraction (0.5 = half
    /// price; tfchain's dedicated-node discount). Between 0 and 1. Default: 0.5.
    /// </summary>
    public decimal DedicatedDiscount { get; set; } = 0.5m;

    /// <summary><see cref="DedicatedDiscount"/> in parts per million (rounded down), computed before any money math.</summary>
    public int DedicatedDiscountPpm => (int)decimal.Truncate(Math.Clamp(DedicatedDiscount, 0m, 1m) * 1_000_000m);

    /// <summary>
    /// Minor units per GPU-hour a reservation's GPUs cost (billed per second on a <c>gpu</c> line of their own, the
    /// farmer paid the share as for other lines). Grid-wide. Default: 1,000,000 (0.1 per GPU-hour).
    /// </summary>
    public long GpuPrice { get; set; } = 1_000_000;

    /// <summary>Billing shard grains, each holding a reminder and driving its buckets. Default: 4.</summary>
    public int Shards { get; set; } = 4;

    /// <summary>Buckets of reservation ids (durable membership, split so no list grows large). Default: 256.</summary>
    public int Buckets { get; set; } = 256;

    /// <summary>How often the shards look for reservations due (soft timer; the reminder restarts it). Default: 10 s.</summary>
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A period is billed this long after it ends, so a node that went silent just before the end has been
    /// declared down and the meter stopped at its last heartbeat first. Default: 1 min.
    /// </summary>
    public TimeSpan SettleDelay { get; set; } = TimeSpan.FromMinutes(1);

    public PriceList DefaultPrices => new(CuPrice, SuPrice, IpuPrice, NetworkPrice, NamePrice);

    /// <summary>The farmer share as an exact ratio (numerator, denominator), computed once from the decimal.</summary>
    public (long Numerator, long Denominator) FarmerShareRatio
    {
        get
        {
            // At most 9 decimals: 0.9 → 9/10, 0.875 → 875/1000.
            var denominator = 1L;
            for (var i = 0; i < Math.Min((int)FarmerShare.Scale, 9); i++)
            {
                denominator *= 10;
            }

            return ((long)decimal.Round(FarmerShare * denominator, 0, MidpointRounding.ToZero), denominator);
        }
    }

    public long ShardOfBucket(long bucket) => bucket % Shards;

    /// <summary>
    /// Runs of <see cref="IdsPerRun"/> consecutive ids share a bucket: a burst of placements (consecutive ids) is
    /// listed with one write to one or two buckets instead of one write to each of many.
    /// </summary>
    public long BucketOf(long reservationId) => reservationId / IdsPerRun % Buckets;

    /// <summary>Consecutive reservation ids listed in the same billing bucket.</summary>
    public const int IdsPerRun = 64;

    /// <summary>Where in the cycle a reservation is billed, from its id (like tfchain's contract id mod 600).</summary>
    public TimeSpan OffsetOf(long reservationId) =>
        TimeSpan.FromSeconds(reservationId % Math.Max(1, (long)Cycle.TotalSeconds));

    /// <summary>The first billing boundary of the reservation strictly after <paramref name="after"/>.</summary>
    public DateTimeOffset NextBoundary(long reservationId, DateTimeOffset after)
    {
        var cycle = Cycle.Ticks;
        var anchor = DateTimeOffset.UnixEpoch.UtcTicks + OffsetOf(reservationId).Ticks;
        var since = after.UtcTicks - anchor;
        var k = (since / cycle) - (since % cycle < 0 ? 1 : 0) + 1;
        return new DateTimeOffset(anchor + (k * cycle), TimeSpan.Zero);
    }

    public string Format(long minor) =>
        (minor / (decimal)Money.MinorUnitsPerUnit).ToString("0.#######", CultureInfo.InvariantCulture) + " " + Currency;

    /// <summary>Largest price per unit-hour accepted (10^12 minor units = 100,000 currency units).</summary>
    public const long MaxPrice = 1_000_000_000_000;
}
