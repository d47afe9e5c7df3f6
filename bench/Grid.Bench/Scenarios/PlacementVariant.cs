namespace Grid.Bench.Scenarios;

/// <summary>
/// How a placement case differs from the plain one of <see cref="PlacementScenario"/>, so other scenarios measure
/// against the same grid and the same placement loop: what is done to the registered grid before any placement,
/// how each request (by its reservation id) differs, and what is checked once all are placed.
/// </summary>
internal sealed record PlacementVariant(
    Func<BenchSilo, List<long>, Task> PrepareGrid,
    Func<long, ReservationRequest, ReservationRequest> Shape,
    Func<BenchSilo, Task> Verify);
