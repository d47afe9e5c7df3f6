using System.Collections.Immutable;
using Grid.Nodes;

namespace Grid.Scheduling;

/// <summary>
/// The scheduler's filters and scores, as pure functions of a node summary, so they are tested without a cluster.
/// A rejection is named the way the 409 answer names it ("down", "insufficient mru", "other country", ...).
/// </summary>
public static class PlacementFilter
{
    public const string Down = "down";
    public const string Draining = "draining";
    public const string Rejoining = "rejoining";
    public const string Excluded = "excluded";
    public const string NotPinned = "not the pinned node";
    public const string OtherFarm = "other farm";
    public const string OtherCountry = "other country";
    public const string NotCertified = "not certified";
    public const string AntiAffinityConflict = "anti-affinity";
    public const string InsufficientIpv4 = "insufficient ipv4";
    public const string OverMaxPrice = "over max price";
    public const string MissingFeature = "missing feature";
    public const string Quarantined = "quarantined";
    public const string TooFar = "too far";
    public const string NoCoordinates = "no coordinates";
    public const string NoMatchingGpu = "no matching gpu";

    /// <summary>Score taken off per failure counted against a node: below every healthy node of any strategy.</summary>
    public const double FailurePenalty = 10;

    /// <summary>A preemption would have made room, but the cluster-wide brake held it back.</summary>
    public const string PreemptionBrake = "held back by the preemption brake (Grid:Scheduling:MaxPreemptionsPerMinute)";

    /// <summary>Passed every filter but was not tried within the attempt bound (it changed under us).</summary>
    public const string Busy = "contended";

    // Built once: a scan past full nodes asked for this string per node, two allocations each time.
    private static readonly string[] InsufficientReasons =
        [.. Enum.GetValues<CapacityUnit>().Select(unit => "insufficient " + unit.ToString().ToLowerInvariant())];

    public static string Insufficient(CapacityUnit unit) => InsufficientReasons[(int)unit];

    /// <summary>Why <paramref name="node"/> cannot take <paramref name="request"/>, or null if it fits.</summary>
    public static string? Reject(NodeSummary node, ReservationRequest request, DateTimeOffset now, IReadOnlySet<long>? excluded)
    {
        var constraints = request.Constraints;
        if (constraints.NodeId is { } pinned && pinned != node.NodeId)
        {
            return NotPinned;
        }

        if (excluded is not null && excluded.Contains(node.NodeId))
        {
            return Excluded;
        }

        if (!constraints.FarmIds.IsDefaultOrEmpty && !constraints.FarmIds.Contains(node.FarmId))
        {
            return OtherFarm;
        }

        if (constraints.Country is { } country && !string.Equals(country, node.Location.Country, StringComparison.OrdinalIgnoreCase))
        {
            return OtherCountry;
        }

        if (constraints.Near is { } near && NearReject(node, near) is { } far)
        {
            return far;
        }

        if (constraints.Certified == true && node.Certification != NodeCertification.Certified)
        {
            return NotCertified;
        }

        if (!HasFeatures(node, constraints.Features))
        {
            return MissingFeature;
        }

        if (node.Status != NodeStatus.Up)
        {
            return Down;
        }

        if (RentFilter.Reject(node, request.TwinId) is { } rented)
        {
            return rented;
        }

        if (node.Draining)
        {
            return Draining;
        }

        if (node.RejoinAt is { } rejoin && now < rejoin)
        {
            return Rejoining;
        }

        if (node.Quarantined)
        {
            return Quarantined;
        }

        if (CapacityMath.FirstShortfall(node.Free, request.Resources) is { } unit)
        {
            return Insufficient(unit);
        }

        if (request.Resources.Gpu > 0 && !constraints.GpuModels.IsDefaultOrEmpty
            && GpuPool.FreeMatching(node.Gpus, constraints.GpuModels) < request.Resources.Gpu)
        {
            return NoMatchingGpu;
        }

        if (constraints.AntiAffinityGroup is { } group && node.AntiAffinityKeys.Contains(AntiAffinity.Key(request.TwinId, group)))
        {
            return AntiAffinityConflict;
        }

        return null;
    }

    /// <summary>The filters, plus the price cap: a node that would cost more than <c>maxPricePerHour</c> is skipped.</summary>
    public static string? Reject(NodeSummary node, ReservationRequest request, DateTimeOffset now, IReadOnlySet<long>? excluded, Billing.PriceBook prices) =>
        Reject(node, request, now, excluded)
            ?? (request.Constraints.MaxPricePerHour is { } max && prices.PriceOf(node, request) > max ? OverMaxPrice : null);

    /// <summary>Why <paramref name="node"/> is out of reach of <paramref name="near"/> (no coordinates, too far), or null.</summary>
    public static string? NearReject(NodeSummary node, NearConstraint near) =>
        GreatCircle.DistanceKm(node.Location, near) is not { } km ? NoCoordinates : km > near.MaxKm ? TooFar : null;

    /// <summary>
    /// The first key of a node's rank: minus its distance in whole km for a request with <c>constraints.near</c> (the
    /// nearest first; the strategy's score breaks ties), 0 for every node otherwise.
    /// </summary>
    public static double Proximity(NodeSummary node, PlacementConstraints constraints) =>
        constraints.Near is { } near && GreatCircle.DistanceKm(node.Location, near) is { } km ? -GreatCircle.Rank(km) : 0;

    /// <summary>How much lower a node ranks for the failures counted against it (quarantine's first step).</summary>
    public static double Penalty(NodeSummary node) => node.RecentFailures * FailurePenalty;

    /// <summary>True when <paramref name="node"/> reported every one of <paramref name="features"/> (none asked: true).</summary>
    public static bool HasFeatures(NodeSummary node, ImmutableArray<string> features)
    {
        foreach (var feature in features.IsDefault ? [] : features)
        {
            if (node.Features.IsDefault || !node.Features.Contains(feature))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Higher is better. Binpack prefers the node left with the least free capacity after placement; spread the
    /// most. Memory weighs most because it is never overcommitted.
    /// </summary>
    public static double Score(NodeSummary node, Capacity wanted, PlacementStrategy strategy)
    {
        var left = Share(node.Free.Mru - wanted.Mru, node.Total.Mru) * 2
            + Share(node.Free.Cru - wanted.Cru, node.Total.Cru)
            + Share(node.Free.Sru - wanted.Sru, node.Total.Sru) * 0.5;
        return strategy == PlacementStrategy.Spread ? left : -left;
    }

    /// <summary>Counts rejections into the report form used for a 409.</summary>
    public static PlacementReport Report(int total, IEnumerable<string> rejections) =>
        new(total, rejections.GroupBy(r => r).ToImmutableDictionary(g => g.Key, g => g.Count()));

    private static double Share(long part, long whole) => whole <= 0 ? 0 : (double)part / whole;
}
