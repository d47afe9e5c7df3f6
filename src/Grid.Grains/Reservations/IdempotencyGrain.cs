using Grid.Grains;
using Grid.Ids;

namespace Grid.Reservations;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.idempotency")]
public sealed class IdempotencyRecord
{
    [Id(0)] public ReservationRequest? Request { get; set; }
    [Id(1)] public long ReservationId { get; set; }
}

/// <summary>
/// One Idempotency-Key of one twin. The reservation id is chosen and stored before placement, so a retry after
/// a crash re-asks the same reservation grain (which answers its existing placement) and never places twice.
/// </summary>
public sealed class IdempotencyGrain(
    [PersistentState("idempotency", GridStorage.Name)] IPersistentState<IdempotencyRecord> state,
    IdGenerator ids) : Grain, IIdempotencyGrain
{
    public async Task<ReservationOutcome> ReserveAsync(ReservationRequest request)
    {
        if (state.State.Request is { } first)
        {
            // Records compare every field, the constraints' farm list by content (PlacementConstraints.Equals), so
            // a field added to the request is compared without anyone remembering to add it here.
            if (first != request)
            {
                throw new IdempotencyConflictException();
            }
        }
        else
        {
            state.State = new IdempotencyRecord { Request = request, ReservationId = await ids.NextAsync(IdKind.Reservation) };
            await state.WriteOrDeactivateAsync(this);
        }

        var reservation = GrainFactory.Get<IReservationGrain>(state.State.ReservationId);
        var outcome = await reservation.CreateAsync(request);
        if (outcome.Reservation is null)
        {
            // Nothing was placed, so nothing is remembered: a retry may succeed once capacity appears.
            await state.ClearStateAsync();
        }

        return outcome;
    }
}
