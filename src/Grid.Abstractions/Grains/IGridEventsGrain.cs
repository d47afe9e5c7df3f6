using System.Collections.Immutable;
using Orleans.CodeGeneration;
using Orleans.Concurrency;

namespace Grid.Grains;

/// <summary>
/// A public, grid-wide happening for the console's live feed: a placement, a move, a node going down or up.
/// Carries node ids only (never tenants' reservation ids): anyone may read the feed.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.grid-event")]
public sealed record GridEvent(
    [property: Id(0)] long Seq,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string Kind,
    [property: Id(3)] long? NodeId,
    [property: Id(4)] long? FromNodeId,
    [property: Id(5)] string Message);

/// <summary>The newest events after a sequence number, oldest first.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.grid-event-page")]
public sealed record GridEventPage(
    [property: Id(0)] ImmutableArray<GridEvent> Events,
    [property: Id(1)] long Last);

/// <summary>
/// The grid-wide recent-events window (soft, in memory; key 0). Each silo pushes what its grains recorded in
/// batches, so nothing on the placement path waits for it; after a failover the window starts empty.
/// </summary>
[Alias("grid.IGridEventsGrain")]
[Version(1)]
public interface IGridEventsGrain : IGrainWithIntegerKey
{
    [Alias("Add")]
    [OneWay]
    Task AddAsync(ImmutableArray<GridEvent> events);

    /// <summary>Events with a sequence number above <paramref name="after"/>, at most <paramref name="limit"/>, newest kept.</summary>
    [Alias("Get")]
    Task<GridEventPage> GetAsync(long after, int limit);
}
