using System.Collections.Immutable;

namespace Grid.Billing;

/// <summary>A span of time one node served a reservation, at the price of that placement (whole seconds).</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.served-interval")]
public sealed record ServedInterval(
    [property: Id(0)] long NodeId,
    [property: Id(1)] long FarmId,
    [property: Id(2)] long FarmerTwinId,
    [property: Id(3)] long PricePerHour,
    [property: Id(4)] DateTimeOffset From,
    [property: Id(5)] DateTimeOffset To)
{
    /// <summary>What the reservation's GPUs cost per hour in this interval (a <c>gpu</c> line of the bill); 0: none.</summary>
    [Id(6)] public long GpuPricePerHour { get; init; }
}

/// <summary>
/// A reservation's meter and billing cursor, persisted with the reservation. The meter runs only while the
/// reservation is active on an up node (<see cref="Open"/>); closed intervals wait in <see cref="Served"/> for
/// the next bill. The cursor (<see cref="Sequence"/>, <see cref="BilledUntil"/>) moves only after the bill is in
/// the ledger, and is re-derived from the ledger when a bill with the next id is already there.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.meter")]
public sealed class ReservationMeter
{
    /// <summary>Price of the current placement, fixed when it was placed (a move to another farm re-prices).</summary>
    [Id(0)] public long PricePerHour { get; set; }
    [Id(1)] public long FarmId { get; set; }
    [Id(2)] public long FarmerTwinId { get; set; }

    /// <summary>The interval being served now (its <c>To</c> is unused), or null while not billable.</summary>
    [Id(3)] public ServedInterval? Open { get; set; }
    [Id(4)] public List<ServedInterval> Served { get; set; } = [];
    [Id(5)] public long Sequence { get; set; }
    [Id(6)] public DateTimeOffset BilledUntil { get; set; }

    /// <summary>The most recent bills (newest last), for reading; the ledger holds them all.</summary>
    [Id(7)] public List<Bill> Bills { get; set; } = [];

    /// <summary>Ledger events recorded in state and appended after the write (retried until the ledger has them).</summary>
    [Id(8)] public List<LedgerAppend> Pending { get; set; } = [];
    [Id(9)] public long GraceCount { get; set; }
    [Id(10)] public DateTimeOffset? GraceSince { get; set; }
    [Id(11)] public DateTimeOffset? CancelledAt { get; set; }
    [Id(12)] public string? CancelCause { get; set; }

    /// <summary>True once the final bill after a cancel is in the ledger: nothing more to bill.</summary>
    [Id(13)] public bool Closed { get; set; }

    /// <summary>
    /// The node the reservation's own twin rents while the reservation is on it, or null: the rent pays for the whole
    /// node, so the meter does not run there (<see cref="Start"/> opens nothing on it).
    /// </summary>
    [Id(14)] public long? RentedNodeId { get; set; }

    /// <summary>The GPUs' price per hour, fixed when the reservation was placed (grid-wide: moves keep it); 0: no GPUs.</summary>
    [Id(15)] public long GpuPricePerHour { get; set; }

    public const int MaxBills = 100;

    /// <summary>Meter times are whole seconds, so bills show exact seconds.</summary>
    public static DateTimeOffset Second(DateTimeOffset at) => new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    public void Start(long nodeId, DateTimeOffset at)
    {
        if (nodeId == RentedNodeId)
        {
            return;
        }

        Open ??= new ServedInterval(nodeId, FarmId, FarmerTwinId, PricePerHour, Max(Second(at), BilledUntil), default)
        {
            GpuPricePerHour = GpuPricePerHour,
        };
    }

    /// <summary>Stops the meter at <paramref name="at"/> (never before it started or before what is billed).</summary>
    public void Stop(DateTimeOffset at)
    {
        if (Open is { } open)
        {
            var to = Max(Second(at), open.From);
            if (to > open.From)
            {
                Served.Add(open with { To = to });
            }

            Open = null;
        }
    }

    /// <summary>The bill of <c>(BilledUntil, to]</c>, or null when nothing was served in it.</summary>
    public Bill? Compute(long reservationId, long twinId, Capacity resources, DateTimeOffset to)
    {
        var intervals = Served.Append(Open is { } open ? open with { To = to } : null).OfType<ServedInterval>();
        var lines = new List<(ServedInterval Key, long Seconds)>();
        foreach (var interval in intervals)
        {
            var seconds = Seconds(Max(interval.From, BilledUntil), Min(interval.To, to));
            if (seconds <= 0)
            {
                continue;
            }

            var index = lines.FindIndex(l => l.Key.NodeId == interval.NodeId && l.Key.PricePerHour == interval.PricePerHour && l.Key.FarmId == interval.FarmId
                && l.Key.GpuPricePerHour == interval.GpuPricePerHour);
            if (index < 0)
            {
                lines.Add((interval, seconds));
            }
            else
            {
                lines[index] = (lines[index].Key, lines[index].Seconds + seconds);
            }
        }

        if (lines.Count == 0)
        {
            return null;
        }

        var (cu, su) = (Pricing.Cu(resources), Pricing.Su(resources));
        // Each node's GPUs are a line of their own after its capacity line (kind gpu), so the bill says what they cost.
        var billLines = lines.SelectMany(l => GpuLine(l.Key, l.Seconds, resources.Gpu) is { } gpu
            ? [CapacityLine(l.Key, l.Seconds, cu, su, resources), gpu]
            : new[] { CapacityLine(l.Key, l.Seconds, cu, su, resources) }).ToImmutableArray();
        var sequence = Sequence + 1;
        return new Bill(BillingEvents.BillId(reservationId, sequence), reservationId, sequence, BilledUntil, to,
            billLines.Sum(l => l.Amount), billLines, twinId);
    }

    private static BillLine CapacityLine(ServedInterval key, long seconds, decimal cu, decimal su, Capacity resources) =>
        new(key.NodeId, key.FarmId, seconds, cu, su, resources.Ipv4, Pricing.Cost(key.PricePerHour, seconds));

    /// <summary>The GPUs' line of an interval: seconds × the GPU price fixed at placement (already × the GPU count).</summary>
    private static BillLine? GpuLine(ServedInterval key, long seconds, int gpus) =>
        key.GpuPricePerHour > 0 && gpus > 0
            ? new BillLine(key.NodeId, key.FarmId, seconds, 0, 0, 0, Pricing.Cost(key.GpuPricePerHour, seconds), BillLine.GpuKind) { Gpus = gpus }
            : null;

    /// <summary>The farmer of each line (from the served intervals), for the payouts.</summary>
    public long FarmerOf(BillLine line) =>
        Served.Append(Open).OfType<ServedInterval>().FirstOrDefault(i => i.NodeId == line.NodeId && i.FarmId == line.FarmId)?.FarmerTwinId ?? 0;

    /// <summary>Moves the cursor after <paramref name="bill"/> (or an empty period) is settled up to <paramref name="to"/>.</summary>
    public void Advance(DateTimeOffset to, Bill? bill)
    {
        BilledUntil = Max(BilledUntil, to);
        Served.RemoveAll(i => i.To <= BilledUntil);
        for (var i = 0; i < Served.Count; i++)
        {
            Served[i] = Served[i] with { From = Max(Served[i].From, BilledUntil) };
        }

        if (Open is { } open)
        {
            Open = open with { From = Max(open.From, BilledUntil) };
        }

        if (bill is not null)
        {
            Sequence = Math.Max(Sequence, bill.Sequence);
            Bills.Add(bill);
            if (Bills.Count > MaxBills)
            {
                Bills.RemoveRange(0, Bills.Count - MaxBills);
            }
        }
    }

    private static long Seconds(DateTimeOffset from, DateTimeOffset to) => to > from ? (to - from).Ticks / TimeSpan.TicksPerSecond : 0;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
