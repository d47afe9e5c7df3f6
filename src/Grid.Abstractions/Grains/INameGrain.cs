using System.Collections.Immutable;

namespace Grid.Grains;

/// <summary>One gateway name, unique grid-wide because it is the key. Key: the name (lowercase).</summary>
[Alias("grid.INameGrain")]
public interface INameGrain : IGrainWithStringKey
{
    /// <summary>Claims the name for <paramref name="twinId"/>; 409 when it is held (also by the same twin).</summary>
    [Alias("Claim")]
    Task<NameInfo> ClaimAsync(long twinId, ImmutableArray<NameBackend> backends, NameHealthCheck healthCheck);

    /// <summary>The name while claimed, else null.</summary>
    [Alias("Get")]
    Task<NameInfo?> GetAsync();

    /// <summary>The name with each backend's state (<see cref="BackendState"/>) and reason, while claimed; else null.</summary>
    [Alias("GetStatus")]
    Task<NameInfo?> GetStatusAsync();

    /// <summary>Replaces backends and health check; null when the name is not held by <paramref name="twinId"/>.</summary>
    [Alias("Update")]
    Task<NameInfo?> UpdateAsync(long twinId, ImmutableArray<NameBackend> backends, NameHealthCheck healthCheck);

    /// <summary>
    /// Counts bytes gateway <paramref name="nodeId"/> proxied for the name under its report <paramref name="sequence"/>:
    /// a sequence at or below the highest counted from that node is not counted again; traffic of a released name is dropped.
    /// </summary>
    [Alias("AddTraffic")]
    Task AddTrafficAsync(long nodeId, long sequence, long bytesIn, long bytesOut);

    /// <summary>Releases the name; false when it is not held by <paramref name="twinId"/>.</summary>
    [Alias("Release")]
    Task<bool> ReleaseAsync(long twinId);
}
