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
    /// Places reservation <paramref name="reservationId"/> (a fresh id) and answers after its record is durable.
    /// Nothing is stored when nothing fits. The record is written insert-only, so a second call with an id already
    /// stored fails; retries that must find their first answer go through <c>IReservationGrain.Create</c>.
    /// </summary>
    [Alias("Place")]
    Task<ReservationOutcome> PlaceAsync(long reservationId, ReservationRequest request);
}
