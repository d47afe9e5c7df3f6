namespace Grid.Scheduling;

/// <summary>
/// Distances over the earth for <c>constraints.near</c>: the haversine great-circle distance on a sphere of the
/// earth's mean radius (off by at most ~0.5 % from the ellipsoid, plenty for choosing a nearby node). Doubles are
/// fine here: a distance ranks nodes, it never becomes money.
/// </summary>
public static class GreatCircle
{
    /// <summary>Mean earth radius in km (IUGG).</summary>
    public const double EarthRadiusKm = 6371.0088;

    /// <summary>Half the earth's circumference: no two points are farther apart.</summary>
    public const double MaxKm = Math.PI * EarthRadiusKm;

    /// <summary>Kilometres between two points given in degrees.</summary>
    public static double DistanceKm(double lat1, double lon1, double lat2, double lon2)
    {
        var dLat = Radians(lat2 - lat1);
        var dLon = Radians(lon2 - lon1);
        var a = Math.Sin(dLat / 2) * Math.Sin(dLat / 2)
            + Math.Cos(Radians(lat1)) * Math.Cos(Radians(lat2)) * Math.Sin(dLon / 2) * Math.Sin(dLon / 2);

        // Clamped: rounding can push a just above 1 for antipodal points.
        return 2 * EarthRadiusKm * Math.Asin(Math.Sqrt(Math.Clamp(a, 0, 1)));
    }

    /// <summary>How far <paramref name="location"/> is from the point of <paramref name="near"/>; null when the node has no coordinates.</summary>
    public static double? DistanceKm(Location location, NearConstraint near) =>
        location is { Latitude: { } lat, Longitude: { } lon } ? DistanceKm(near.Lat, near.Lon, lat, lon) : null;

    /// <summary>
    /// The placement rank of a distance: whole kilometres, so nodes of one site (a few hundred metres apart) tie
    /// and the strategy chooses among them.
    /// </summary>
    public static double Rank(double distanceKm) => Math.Round(distanceKm, 0, MidpointRounding.AwayFromZero);

    /// <summary>True when the coordinates are on the globe (latitude -90..90, longitude -180..180, finite).</summary>
    public static bool IsValid(double latitude, double longitude) =>
        double.IsFinite(latitude) && double.IsFinite(longitude) && latitude is >= -90 and <= 90 && longitude is >= -180 and <= 180;

    private static double Radians(double degrees) => degrees * Math.PI / 180;
}
