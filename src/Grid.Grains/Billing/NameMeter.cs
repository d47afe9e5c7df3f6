using System.Collections.Immutable;
using System.Globalization;

namespace Grid.Billing;

/// <summary>Bytes one gateway node proxied for a name since the name's last bill, and whose farm carried them.</summary>
[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.unbilled-traffic")]
public sealed class UnbilledTraffic
{
    [Id(0)] public long FarmId { get; set; }
    [Id(1)] public long FarmerTwinId { get; set; }
    [Id(2)] public long Bytes { get; set; }
}

/// <summary>
/// A gateway name's meter and billing cursor, persisted with the name. Periods run from the claim, one
/// <see cref="BillingOptions.Cycle"/> each (the last one ends at the release). A bill has a <c>name</c> line (the
/// period's seconds at the grid's name price) and one <c>traffic</c> line per gateway node that counted bytes since
/// the last bill (at its farm's network price). The cursor moves only after the bill is in the ledger; when the
/// ledger already holds the next bill id (a write lost after the append), that stored bill is adopted and exactly its
/// bytes are taken off what waits, so nothing is billed twice or skipped.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.name-meter")]
public sealed class NameMeter
{
    /// <summary>Bytes per GB in the network price (tfchain's NU unit: gigabytes, factor 10^9).</summary>
    public const long BytesPerGb = 1_000_000_000;

    [Id(0)] public DateTimeOffset BilledUntil { get; set; }
    [Id(1)] public long Sequence { get; set; }

    /// <summary>Per gateway node id: bytes counted and not billed yet.</summary>
    [Id(2)] public Dictionary<long, UnbilledTraffic> Unbilled { get; set; } = [];

    /// <summary>The most recent bills of the claim (newest last), for reading; the ledger holds them all.</summary>
    [Id(3)] public List<Bill> Bills { get; set; } = [];

    /// <summary>Who the claim's bills are for: its owner reads them, also after the release, until the next claim.</summary>
    [Id(4)] public long TwinId { get; set; }

    /// <summary>The id of a name's bill: deterministic per name, claim and period, so a retried append adds nothing.</summary>
    public static string BillId(string name, long claim, long sequence) =>
        string.Create(CultureInfo.InvariantCulture, $"bill:name:{name}:{claim}:{sequence}");

    /// <summary>What a traffic line costs: floor(bytes × price per GB / 10^9), rounded down once per line.</summary>
    public static long TrafficCost(long bytes, long pricePerGb) => (long)((Int128)bytes * pricePerGb / BytesPerGb);

    /// <summary>A new claim of <paramref name="twinId"/>: billed from <paramref name="at"/> (whole seconds), nothing waiting.</summary>
    public void Start(long twinId, DateTimeOffset at)
    {
        TwinId = twinId;
        BilledUntil = ReservationMeter.Second(at);
        Sequence = 0;
        Unbilled.Clear();
        Bills.Clear();
    }

    /// <summary>Counts bytes <paramref name="carrier"/> proxied; the farm at the latest count is the one paid.</summary>
    public void Add(TrafficCarrier carrier, long bytes)
    {
        if (!Unbilled.TryGetValue(carrier.NodeId, out var waiting))
        {
            Unbilled[carrier.NodeId] = waiting = new UnbilledTraffic();
        }

        waiting.FarmId = carrier.FarmId;
        waiting.FarmerTwinId = carrier.FarmerTwinId;
        waiting.Bytes += bytes;
    }

    /// <summary>The end of the next full period, from the claim.</summary>
    public DateTimeOffset NextBoundary(TimeSpan cycle) => BilledUntil + cycle;

    /// <summary>The bill of <c>(BilledUntil, to]</c>, or null when it holds no time and no traffic.</summary>
    public Bill? Compute(string name, long claim, long twinId, DateTimeOffset to, long namePricePerHour, Func<long, long> networkPriceOfFarm)
    {
        var seconds = to > BilledUntil ? (to - BilledUntil).Ticks / TimeSpan.TicksPerSecond : 0;
        var lines = ImmutableArray.CreateBuilder<BillLine>();
        if (seconds > 0)
        {
            lines.Add(new BillLine(0, 0, seconds, 0, 0, 0, Pricing.Cost(namePricePerHour, seconds), BillLine.NameKind));
        }

        foreach (var (nodeId, traffic) in Unbilled.Where(u => u.Value.Bytes > 0).OrderBy(u => u.Key))
        {
            lines.Add(new BillLine(nodeId, traffic.FarmId, 0, 0, 0, 0, TrafficCost(traffic.Bytes, networkPriceOfFarm(traffic.FarmId)),
                BillLine.TrafficKind, traffic.Bytes));
        }

        if (lines.Count == 0)
        {
            return null;
        }

        var sequence = Sequence + 1;
        return new Bill(BillId(name, claim, sequence), 0, sequence, BilledUntil, to, lines.Sum(l => l.Amount), lines.ToImmutable(), twinId, name);
    }

    /// <summary>Who earns the farmer's share of a line: the traffic's farm owner; the grid keeps a name line whole.</summary>
    public long FarmerOf(BillLine line) =>
        line.Kind == BillLine.TrafficKind && Unbilled.TryGetValue(line.NodeId, out var traffic) ? traffic.FarmerTwinId : Money.GridAccountId;

    /// <summary>Moves the cursor past <paramref name="bill"/> (the one in the ledger) or an empty period ending at <paramref name="to"/>.</summary>
    public void Advance(DateTimeOffset to, Bill? bill)
    {
        BilledUntil = to > BilledUntil ? to : BilledUntil;
        if (bill is null)
        {
            return;
        }

        foreach (var line in bill.Lines.Where(l => l.Kind == BillLine.TrafficKind))
        {
            if (Unbilled.TryGetValue(line.NodeId, out var traffic))
            {
                traffic.Bytes -= Math.Min(traffic.Bytes, line.Bytes);
                if (traffic.Bytes == 0)
                {
                    Unbilled.Remove(line.NodeId);
                }
            }
        }

        Sequence = Math.Max(Sequence, bill.Sequence);
        Bills.Add(bill);
        if (Bills.Count > ReservationMeter.MaxBills)
        {
            Bills.RemoveRange(0, Bills.Count - ReservationMeter.MaxBills);
        }
    }
}
