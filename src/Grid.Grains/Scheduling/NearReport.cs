namespace Grid.Scheduling;

/// <summary>
/// The distance part of a 409 for a request with <c>constraints.near</c>: its <c>maxKm</c>, and how far the nearest
/// node is that would fit but for the distance ("no node within 500 km fits; nearest fitting node is 812 km away").
/// </summary>
public static class NearReport
{
    /// <summary>
    /// <paramref name="report"/> with the distances of <paramref name="request"/> when it has <c>constraints.near</c>;
    /// <paramref name="fittingButForDistance"/> are the nodes every other filter accepts (walked only then).
    /// </summary>
    public static PlacementReport With(PlacementReport report, ReservationRequest request, IEnumerable<NodeSummary> fittingButForDistance)
    {
        if (request.Constraints.Near is not { } near)
        {
            return report;
        }

        double? nearest = null;
        foreach (var node in fittingButForDistance)
        {
            if (GreatCircle.DistanceKm(node.Location, near) is { } km && (nearest is null || km < nearest))
            {
                nearest = km;
            }
        }

        return report with { MaxKm = near.MaxKm, NearestFittingKm = nearest };
    }
}
