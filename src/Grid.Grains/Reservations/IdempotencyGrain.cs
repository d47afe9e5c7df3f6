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
            if (!SameRequest(first, request))
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

    private static bool SameRequest(ReservationRequest a, ReservationRequest b) =>
        a.TwinId == b.TwinId && a.Resources == b.Resources && a.Strategy == b.Strategy
        && a.Constraints.Country == b.Constraints.Country && a.Constraints.Certified == b.Constraints.Certified
        && a.Constraints.NodeId == b.Constraints.NodeId && a.Constraints.AntiAffinityGroup == b.Constraints.AntiAffinityGroup
        && a.Constraints.FarmIds.AsSpan().SequenceEqual(b.Constraints.FarmIds.AsSpan());
}
