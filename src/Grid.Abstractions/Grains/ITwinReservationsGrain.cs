using System.Collections.Immutable;
using Orleans.CodeGeneration;

namespace Grid.Grains;

/// <summary>
/// One bucket of a twin's reservation ids: ids <c>[bucket × Size, (bucket + 1) × Size)</c>. Buckets keep every
/// write small however many reservations a tenant holds. Key: <c>"{twinId}/{bucket}"</c>.
/// </summary>
[Alias("grid.ITwinReservationsGrain")]
[Version(1)]
public interface ITwinReservationsGrain : IGrainWithStringKey
{
    [Alias("Add")]
    Task AddAsync(long reservationId);

    /// <summary>Several ids of this bucket in one durable write (a placement batch).</summary>
    [Alias("AddMany")]
    Task AddManyAsync(ImmutableArray<long> reservationIds);

    [Alias("Get")]
    Task<ImmutableArray<long>> GetAsync();
}

/// <summary>Where a twin's reservation ids are kept.</summary>
public static class TwinReservations
{
    /// <summary>Ids per bucket. Default: 1024.</summary>
    public const int BucketSize = 1024;

    public static long BucketOf(long reservationId) => reservationId / BucketSize;

    public static ITwinReservationsGrain Bucket(this IGrainFactory grains, long twinId, long bucket) =>
        grains.Get<ITwinReservationsGrain>($"{twinId}/{bucket}");
}
