using System.Collections.Immutable;
using Grid.Scheduling;

namespace Grid.Reservations;

/// <summary>What a reservation asks of its silo to be placed: a first placement, and a move to another node.</summary>
public interface IReservationPlacement
{
    /// <summary>Places a new reservation and answers once its record is durable (see <see cref="ReservationPlacer"/>).</summary>
    Task<ReservationOutcome> PlaceAsync(long reservationId, ReservationRequest request);

    /// <summary>Allocates the reservation's next <paramref name="epoch"/> on a node other than the <paramref name="excluded"/> ones.</summary>
    Task<(Placement? Placement, PlacementReport? Report)> PlaceMoveAsync(
        long reservationId, long epoch, ReservationRequest request, ImmutableArray<WorkloadAssignment> workloads, IReadOnlySet<long> excluded);
}
