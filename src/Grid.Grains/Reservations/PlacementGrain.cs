using Grid.Grains;
using Orleans.Concurrency;

namespace Grid.Reservations;

/// <summary>The silo-local entry to <see cref="ReservationPlacer"/>: one reentrant worker takes every concurrent request.</summary>
[StatelessWorker(1)]
[Reentrant]
public sealed class PlacementGrain(ReservationPlacer placer) : Grain, IPlacementGrain
{
    public Task<ReservationOutcome> PlaceAsync(long reservationId, ReservationRequest request) => placer.PlaceAsync(reservationId, request);
}
