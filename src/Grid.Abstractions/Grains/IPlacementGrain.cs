using Orleans.Concurrency;

namespace Grid.Grains;

/// <summary>
/// Where new reservations are placed: a stateless worker on every silo that hands each request to the silo's
/// placement batcher, so a burst of creates shares node calls, list and bucket writes and one storage batch,
/// and no reservation grain is activated to be created. Key: always 0 (the local worker is used).
/// </summary>
[Alias("grid.IPlacementGrain")]
public interface IPlacementGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Places reservation <paramref name="reservationId"/> and answers after its record is durable; a second
    /// call with the same id answers the stored reservation. Nothing is stored when nothing fits.
    /// </summary>
    [Alias("Place")]
    Task<ReservationOutcome> PlaceAsync(long reservationId, ReservationRequest request);
}
