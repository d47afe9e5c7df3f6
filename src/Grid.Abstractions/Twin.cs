namespace Grid;

[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.twin-info")]
public sealed record TwinInfo(
    [property: Id(0)] long TwinId,
    [property: Id(1)] string Name,
    [property: Id(2)] DateTimeOffset CreatedAt);
