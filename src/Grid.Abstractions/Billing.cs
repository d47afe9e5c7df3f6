using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Grid;

/// <summary>
/// Prices in minor units per unit-hour: compute unit (CU), storage unit (SU), public IPv4 (IPU); and per GB
/// (10^9 bytes) proxied by a gateway (<see cref="Nu"/>) and per hour a gateway name is held (<see cref="Name"/>).
/// </summary>
/// <remarks>
/// <see cref="Nu"/> and <see cref="Name"/> came later: a farm list without them (null, left out of JSON) uses the
/// grid's default. A name's hour is priced by the grid's default only (every gateway serves every name, so no farm's
/// list applies); a farm's <see cref="Nu"/> prices the traffic its gateway nodes carry.
/// </remarks>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.price-list")]
public sealed record PriceList(
    [property: Id(0)] long Cu,
    [property: Id(1)] long Su,
    [property: Id(2)] long Ipu,
    [property: Id(3), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Nu = null,
    [property: Id(4), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Name = null)
{
    /// <summary>
    /// tfchain's genesis pricing policy (grid_store in its chain spec; values are 10^-7 USD, our minor units, taken
    /// one to one): CU 0.01/h, SU 0.005/h, IPU 0.004/h, NU 0.0015 per GB (its unit 4: gigabytes, factor 10^9 bytes),
    /// unique name 0.00025/h.
    /// </summary>
    public static readonly PriceList Default = new(100_000, 50_000, 40_000, 15_000, 2_500);
}

/// <summary>A farm's own price list and how many times it was changed (the ledger event's number).</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.farm-price-list")]
public sealed record FarmPriceList(
    [property: Id(0)] long FarmId,
    [property: Id(1)] PriceList Prices,
    [property: Id(2)] long Version);

/// <summary>Every farm's own price list, and the version of the set.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.price-list-set")]
public sealed record PriceListSet([property: Id(0)] long Version, [property: Id(1)] ImmutableArray<FarmPriceList> Farms);

/// <summary>What a reservation would cost on the node the scheduler would choose now.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.quote")]
public sealed record Quote(
    [property: Id(0)] long NodeId,
    [property: Id(1)] long PricePerHour,
    [property: Id(2)] long PricePer30Days,
    [property: Id(3)] string Currency)
{
    /// <summary>True when priced as spot capacity (<c>Grid:Billing:SpotDiscount</c> off).</summary>
    [Id(4)] public bool Spot { get; init; }

    /// <summary>The priority asked (0–100).</summary>
    public int Priority { get => _priority ?? ReservationPriority.Default; init => _priority = value; }

    // Null when the sender's release had no such field: Orleans makes a record without running its initializers, so a
    // plain int would read 0 there (the lowest priority, preemptible by anything) during a rolling upgrade.
    [Id(5)] private readonly int? _priority;

    /// <summary>Great-circle distance (km) from the request's <c>constraints.near</c> point to the node; null without one.</summary>
    [Id(6), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? DistanceKm { get; init; }

    /// <summary>The GPUs' part of <see cref="PricePerHour"/> (<c>Grid:Billing:GpuPrice</c> per GPU); 0 without GPUs.</summary>
    [Id(7), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long GpuPricePerHour { get; init; }
}

/// <summary>
/// Seconds one node served within a bill, the reservation's units (CU/SU rounded to 6 decimals for display; the
/// amount is computed from the exact units) and what they cost. A name's bill has lines of their own
/// (<see cref="Kind"/>): <c>name</c> (the seconds the name was held; node and farm 0, paid to the grid) and
/// <c>traffic</c> (the <see cref="Bytes"/> one gateway node proxied for it, its farm's farmer paid the share).
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.bill-line")]
public sealed record BillLine(
    [property: Id(0)] long NodeId,
    [property: Id(1)] long FarmId,
    [property: Id(2)] long Seconds,
    [property: Id(3)] decimal Cu,
    [property: Id(4)] decimal Su,
    [property: Id(5)] int Ipu,
    [property: Id(6)] long Amount,
    [property: Id(7), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Kind = null,
    [property: Id(8), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long Bytes = 0)
{
    /// <summary>GPUs a <c>gpu</c> line bills (its seconds × GPUs × the GPU-hour price fixed at placement).</summary>
    [Id(9), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int Gpus { get; init; }

    /// <summary><see cref="Kind"/> of the GPUs one node served a reservation (priced per GPU-hour).</summary>
    public const string GpuKind = "gpu";

    /// <summary><see cref="Kind"/> of a name's hours.</summary>
    public const string NameKind = "name";

    /// <summary><see cref="Kind"/> of the traffic one gateway node carried for a name.</summary>
    public const string TrafficKind = "traffic";
}

/// <summary>
/// One bill of a reservation (or of a gateway name: <see cref="Name"/> set, <see cref="ReservationId"/> 0): its
/// period, the seconds each node served and the amount (minor units).
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.bill")]
public sealed record Bill(
    [property: Id(0)] string BillId,
    [property: Id(1)] long ReservationId,
    [property: Id(2)] long Sequence,
    [property: Id(3)] DateTimeOffset From,
    [property: Id(4)] DateTimeOffset To,
    [property: Id(5)] long Amount,
    [property: Id(6)] ImmutableArray<BillLine> Lines,
    [property: Id(7)] long TwinId,
    [property: Id(8), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name = null)
{
    /// <summary>The solution provider paid from this bill (a reservation created with one), or null.</summary>
    [Id(9), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? SolutionProvider { get; init; }

    /// <summary>What the provider got: per line, floor(the grid's part × its share), summed; taken from the grid's part.</summary>
    [Id(10), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long SolutionProviderAmount { get; init; }

    /// <summary>The rent contract billed (the bill of a rented node's whole capacity), or null.</summary>
    [Id(11), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? RentContractId { get; init; }
}

/// <summary>What one node of a farm earned its farmer in a period.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.node-earnings")]
public sealed record NodeEarnings(
    [property: Id(0)] long NodeId,
    [property: Id(1)] long Seconds,
    [property: Id(2)] long Amount);

/// <summary>What one day of a farm earned, per node.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.day-earnings")]
public sealed record DayEarnings(
    [property: Id(0)] DateOnly Day,
    [property: Id(1)] long Amount,
    [property: Id(2)] ImmutableArray<NodeEarnings> Nodes);

/// <summary>A farm's earnings (the farmer's share of the bills its nodes served) in a period, per node and per day.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.farm-earnings")]
public sealed record FarmEarnings(
    [property: Id(0)] long FarmId,
    [property: Id(1)] DateTimeOffset From,
    [property: Id(2)] DateTimeOffset To,
    [property: Id(3)] long Amount,
    [property: Id(4)] ImmutableArray<NodeEarnings> Nodes,
    [property: Id(5)] ImmutableArray<DayEarnings> Days);
