namespace Grid;

/// <summary>
/// A node's content-addressed image cache as its agent reports it: the bytes its images take now and the most it
/// may take (the agent's <c>--image-cache-size</c>). The controller reserves <see cref="Cap"/> out of the node's
/// <c>sru</c>, so reservations are never sold the disk the cache may fill (as ZOS reserves its cache's disk).
/// </summary>
/// <param name="Used">Bytes the cached images take on the node's disk.</param>
/// <param name="Cap">Bytes the cache may take before unused images are removed.</param>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.image-cache")]
public sealed record ImageCacheUsage(
    [property: Id(0)] long Used,
    [property: Id(1)] long Cap)
{
    /// <summary>The part of a node's <c>sru</c> the cache holds: its cap, at most the node's whole SSD.</summary>
    public long ReservedOf(long sru) => Math.Clamp(Cap, 0, Math.Max(sru, 0));
}
