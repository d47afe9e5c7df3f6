using Grid.Scheduling;

namespace Grid.Grains.Tests.Marketplace;

/// <summary>The haversine distance and the near filter and rank, as pure functions.</summary>
public sealed class GreatCircleTests
{
    private static readonly Capacity Machine = new(8, 16L << 30, 100L << 30, 0);

    [Theory]
    [InlineData(51.05, 3.72, 50.85, 4.35, 49.4)] // Ghent - Brussels
    [InlineData(51.05, 3.72, 48.86, 2.35, 263.5)] // Ghent - Paris
    [InlineData(51.5074, -0.1278, 40.7128, -74.0060, 5570.2)] // London - New York
    public void DistancesMatchKnownCityPairsWithinHalfAPercent(double lat1, double lon1, double lat2, double lon2, double km)
    {
        var distance = GreatCircle.DistanceKm(lat1, lon1, lat2, lon2);
        Assert.InRange(distance, km * 0.995, km * 1.005);
        Assert.Equal(distance, GreatCircle.DistanceKm(lat2, lon2, lat1, lon1), 9);
    }

    [Fact]
    public void ThePointItselfIsZeroAndAntipodesAreHalfTheEarthAround()
    {
        Assert.Equal(0, GreatCircle.DistanceKm(51.05, 3.72, 51.05, 3.72), 9);
        Assert.Equal(GreatCircle.MaxKm, GreatCircle.DistanceKm(0, 0, 0, 180), 6);
        Assert.Equal(GreatCircle.MaxKm, GreatCircle.DistanceKm(90, 0, -90, 0), 6);
    }

    [Theory]
    [InlineData(0, 0, true)]
    [InlineData(90, 180, true)]
    [InlineData(-90, -180, true)]
    [InlineData(90.01, 0, false)]
    [InlineData(0, -180.5, false)]
    [InlineData(double.NaN, 0, false)]
    public void CoordinatesMustBeOnTheGlobe(double latitude, double longitude, bool valid) =>
        Assert.Equal(valid, GreatCircle.IsValid(latitude, longitude));

    [Fact]
    public void NearRejectsNodesWithoutCoordinatesAndBeyondTheLimit()
    {
        var near = new NearConstraint(51.05, 3.72, 100);
        Assert.Null(PlacementFilter.NearReject(Node(1, 50.85, 4.35), near));
        Assert.Equal(PlacementFilter.TooFar, PlacementFilter.NearReject(Node(2, 48.86, 2.35), near));
        Assert.Equal(PlacementFilter.NoCoordinates, PlacementFilter.NearReject(Node(3, null, null), near));

        var request = new ReservationRequest(1, new Capacity(1, 1L << 30, 0, 0), PlacementConstraints.None with { Near = near }, PlacementStrategy.Binpack);
        Assert.Equal(PlacementFilter.TooFar, PlacementFilter.Reject(Node(2, 48.86, 2.35), request, DateTimeOffset.UtcNow, null));
        Assert.Null(PlacementFilter.Reject(Node(1, 50.85, 4.35), request, DateTimeOffset.UtcNow, null));
    }

    [Fact]
    public void ProximityRanksTheNearestFirstAndTiesWithinAKilometre()
    {
        var constraints = PlacementConstraints.None with { Near = new NearConstraint(51.05, 3.72, 1000) };
        var ghent = PlacementFilter.Proximity(Node(1, 51.0501, 3.7201), constraints);
        var ghentToo = PlacementFilter.Proximity(Node(2, 51.0520, 3.7190), constraints);
        var brussels = PlacementFilter.Proximity(Node(3, 50.85, 4.35), constraints);
        Assert.Equal(ghent, ghentToo);
        Assert.True(ghent > brussels);

        // Without near every node ranks alike: the strategy alone decides, as before.
        Assert.Equal(0, PlacementFilter.Proximity(Node(3, 50.85, 4.35), PlacementConstraints.None));
    }

    [Fact]
    public void TheReportNamesTheLimitAndTheNearestNodeThatWouldFit()
    {
        var request = new ReservationRequest(1, new Capacity(1, 1L << 30, 0, 0),
            PlacementConstraints.None with { Near = new NearConstraint(51.05, 3.72, 100) }, PlacementStrategy.Binpack);
        var report = NearReport.With(PlacementFilter.Report(2, ["too far", "too far"]), request, [Node(1, 48.86, 2.35), Node(2, 40.7128, -74.0060)]);
        Assert.StartsWith("no node within 100 km fits; nearest fitting node is 26", report.Describe(), StringComparison.Ordinal);
        Assert.EndsWith("km away (0/2 nodes fit: 2 too far)", report.Describe(), StringComparison.Ordinal);

        var none = NearReport.With(PlacementFilter.Report(1, ["insufficient mru"]), request, []);
        Assert.Equal("no node within 100 km fits (0/1 nodes fit: 1 insufficient mru)", none.Describe());

        // A request without near keeps the report as it was.
        var plain = PlacementFilter.Report(1, ["down"]);
        Assert.Same(plain, NearReport.With(plain, request with { Constraints = PlacementConstraints.None }, [Node(1, 48.86, 2.35)]));
        Assert.Equal("0/1 nodes fit: 1 down", plain.Describe());
    }

    private static NodeSummary Node(long id, double? latitude, double? longitude) =>
        new(id, 1, 1, NodeStatus.Up, false, null, Machine, Machine,
            new Location("Belgium", "Ghent") { Latitude = latitude, Longitude = longitude }, NodeCertification.Diy, [], 1, Capacity.Zero);
}
