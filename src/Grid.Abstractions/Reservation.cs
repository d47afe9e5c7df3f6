using System.Collections.Immutable;

namespace Grid;

public enum ReservationState
{
    Pending,
    Active,
    Migrating,
    Unschedulable,
    Lost,
    Grace,
    Cancelled,

    /// <summary>Made room for a reservation of higher priority and nothing else fitted: not billed, nothing runs; placed again when room appears.</summary>
    Preempted,
}

public enum PlacementStrategy
{
    /// <summary>Fill the fullest node that fits first, keeping whole nodes free for large requests.</summary>
    Binpack,

    /// <summary>Prefer the emptiest node, spreading load and failure impact.</summary>
    Spread,

    /// <summary>Prefer the node where the reservation costs least per hour (then fullest first).</summary>
    Cheapest,
}

/// <summary>Optional placement constraints of a reservation.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.constraints")]
public sealed record PlacementConstraints(
    [property: Id(0)] ImmutableArray<long> FarmIds,
    [property: Id(1)] string? Country,
    [property: Id(2)] bool? Certified,
    [property: Id(3)] long? NodeId,
    [property: Id(4)] string? AntiAffinityGroup,
    [property: Id(5)] long? MaxPricePerHour = null)
{
    /// <summary>Features every node it is placed on (also by moves) must have (<see cref="NodeFeatures"/>); empty: none.</summary>
    [Id(6)] public ImmutableArray<string> Features { get; init; } = [];

    /// <summary>GPU models the reservation accepts (any of them, <see cref="GpuDevice.Matches"/>); empty: any GPU.</summary>
    public ImmutableArray<string> GpuModels { get => _gpuModels.IsDefault ? [] : _gpuModels; init => _gpuModels = value; }

    // Default (not empty) when the sender's release had no such field: Orleans makes records without their initializers.
    [Id(7)] private readonly ImmutableArray<string> _gpuModels;

    /// <summary>Place on the nearest node that fits within a distance of a point; null: anywhere.</summary>
    [Id(8)] public NearConstraint? Near { get; init; }

    public static readonly PlacementConstraints None = new([], null, null, null, null);

    /// <summary>
    /// Value equality, the farm list by its content and order: a record compares an <see cref="ImmutableArray{T}"/>
    /// by the array it wraps, so two copies of one request (say, a retry read back from storage) would differ, and
    /// an equality written out field by field elsewhere forgets a field added later (it once missed the price cap).
    /// A missing and an empty farm list are the same: no farm constraint.
    /// </summary>
    public bool Equals(PlacementConstraints? other) =>
        other is not null
        && FarmIds.AsSpan().SequenceEqual(other.FarmIds.AsSpan())
        && Country == other.Country
        && Certified == other.Certified
        && NodeId == other.NodeId
        && AntiAffinityGroup == other.AntiAffinityGroup
        && MaxPricePerHour == other.MaxPricePerHour
        && (Features.IsDefault ? [] : Features).AsSpan().SequenceEqual((other.Features.IsDefault ? [] : other.Features).AsSpan())
        && GpuModels.AsSpan().SequenceEqual(other.GpuModels.AsSpan())
        && Near == other.Near;

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var farmId in FarmIds.AsSpan())
        {
            hash.Add(farmId);
        }

        hash.Add(Country);
        hash.Add(Certified);
        hash.Add(NodeId);
        hash.Add(AntiAffinityGroup);
        hash.Add(MaxPricePerHour);
        foreach (var feature in Features.IsDefault ? [] : Features)
        {
            hash.Add(feature);
        }

        foreach (var model in GpuModels)
        {
            hash.Add(model);
        }

        hash.Add(Near);

        return hash.ToHashCode();
    }
}

[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.reservation-request")]
public sealed record ReservationRequest(
    [property: Id(0)] long TwinId,
    [property: Id(1)] Capacity Resources,
    [property: Id(2)] PlacementConstraints Constraints,
    [property: Id(3)] PlacementStrategy Strategy)
{
    /// <summary>The approved solution provider the reservation was created with (paid a share of the grid's part of its bills), or null.</summary>
    [Id(4)] public long? SolutionProvider { get; init; }

    /// <summary>That provider's share in parts per million, fixed when the reservation was created.</summary>
    [Id(5)] public int SolutionProviderPpm { get; init; }

    /// <summary>0–100 (<see cref="ReservationPriority"/>): a reservation at least 10 points higher may preempt it when nothing else fits.</summary>
    public int Priority { get => _priority ?? ReservationPriority.Default; init => _priority = value; }

    // Null when the sender's release had no such field: Orleans makes a record without running its initializers, so a
    // plain int would read 0 there (the lowest priority, preemptible by anything) during a rolling upgrade.
    [Id(6)] private readonly int? _priority;

    /// <summary>Spot capacity: priced at the spot discount, preemptible by any reservation that is not spot.</summary>
    [Id(7)] public bool Spot { get; init; }
}

/// <summary>Why nodes were rejected, per filter, when a reservation could not be placed.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.placement-report")]
public sealed record PlacementReport(
    [property: Id(0)] int TotalNodes,
    [property: Id(1)] ImmutableDictionary<string, int> Rejections)
{
    /// <summary>For a request with <c>constraints.near</c>: its <c>maxKm</c>; null otherwise.</summary>
    [Id(2)] public double? MaxKm { get; init; }

    /// <summary>For a request with <c>constraints.near</c>: how far the nearest node is that fits but for the distance; null when none.</summary>
    [Id(3)] public double? NearestFittingKm { get; init; }

    /// <summary>
    /// Human summary like <c>0/20 nodes fit: 12 insufficient mru, 5 other country, 3 down</c>; with a distance
    /// limit it starts with it: <c>no node within 500 km fits; nearest fitting node is 812 km away (0/20 ...)</c>.
    /// </summary>
    public string Describe() => MaxKm is { } max
        ? (NearestFittingKm is { } nearest
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"no node within {max:0.#} km fits; nearest fitting node is {nearest:0} km away ({Counts()})")
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"no node within {max:0.#} km fits ({Counts()})"))
        : Counts();

    private string Counts() =>
        Rejections.Count == 0
            ? $"0/{TotalNodes} nodes fit"
            : $"0/{TotalNodes} nodes fit: " + string.Join(", ",
                Rejections.OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal)
                    .Select(r => $"{r.Value} {r.Key}"));
}

[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.reservation-info")]
public sealed record ReservationInfo(
    [property: Id(0)] long ReservationId,
    [property: Id(1)] long TwinId,
    [property: Id(2)] ReservationState State,
    [property: Id(3)] long? NodeId,
    [property: Id(4)] long Epoch,
    [property: Id(5)] Capacity Resources,
    [property: Id(6)] PlacementConstraints Constraints,
    [property: Id(7)] PlacementStrategy Strategy,
    [property: Id(8)] ImmutableArray<FarmIp> PublicIps,
    [property: Id(9)] ImmutableArray<long> WorkloadIds,
    [property: Id(10)] DateTimeOffset CreatedAt,
    [property: Id(11)] DateTimeOffset UpdatedAt,
    [property: Id(12)] long PricePerHour = 0)
{
    /// <summary>The solution provider it was created with, or null.</summary>
    [Id(13)] public long? SolutionProvider { get; init; }

    /// <summary>Its priority, 0–100.</summary>
    public int Priority { get => _priority ?? ReservationPriority.Default; init => _priority = value; }

    // Null when the sender's release had no such field: Orleans makes a record without running its initializers, so a
    // plain int would read 0 there (the lowest priority, preemptible by anything) during a rolling upgrade.
    [Id(14)] private readonly int? _priority;

    /// <summary>True for spot capacity.</summary>
    [Id(15)] public bool Spot { get; init; }

    /// <summary>The reservation that preempted it last (its events say when and where); null when never preempted.</summary>
    [Id(16)] public long? PreemptedBy { get; init; }
}

/// <summary>Outcome of creating a reservation: the reservation, or why nothing fits.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.reservation-outcome")]
public sealed record ReservationOutcome(
    [property: Id(0)] ReservationInfo? Reservation,
    [property: Id(1)] PlacementReport? Unplaceable);

/// <summary>Something that happened to a reservation: placed, moved, failed, cancelled.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.reservation-event")]
public sealed record ReservationEvent(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] string Kind,
    [property: Id(2)] long? NodeId,
    [property: Id(3)] long Epoch,
    [property: Id(4)] string Message);
