using System.Collections.Immutable;

namespace Grid.Grains;

/// <summary>An identity (tenant, farmer): name, API key hash, what it owns. Key: twin id.</summary>
[Alias("grid.ITwinGrain")]
public interface ITwinGrain : IGrainWithIntegerKey
{
    [Alias("Create")]
    Task<TwinInfo> CreateAsync(string name, string apiKeyHash);

    [Alias("Get")]
    Task<TwinInfo?> GetAsync();

    /// <summary>True when the twin exists and <paramref name="apiKeyHash"/> is its key's hash.</summary>
    [Alias("VerifyKey")]
    Task<bool> VerifyKeyAsync(string apiKeyHash);

    [Alias("AddFarm")]
    Task AddFarmAsync(long farmId);

    [Alias("GetFarmIds")]
    Task<ImmutableArray<long>> GetFarmIdsAsync();

    /// <summary>Remembers that the twin has reservations in a bucket of <see cref="ITwinReservationsGrain"/>.</summary>
    [Alias("AddReservationBucket")]
    Task AddReservationBucketAsync(long bucket);

    /// <summary>The buckets holding the twin's reservation ids, newest first.</summary>
    [Alias("GetReservationBuckets")]
    Task<ImmutableArray<long>> GetReservationBucketsAsync();
}
