using System.Collections.Immutable;
using Grid.Grains;

namespace Grid.Twins;

[GenerateSerializer, Alias("grid.state.twin-reservations")]
public sealed class TwinReservationsState
{
    [Id(0)] public SortedSet<long> ReservationIds { get; set; } = [];
}

/// <summary>A bucket of one twin's reservation ids; the twin learns of the bucket when its first id arrives.</summary>
public sealed class TwinReservationsGrain(
    [PersistentState("twin-reservations", GridStorage.Name)] IPersistentState<TwinReservationsState> state) : Grain, ITwinReservationsGrain
{
    public async Task AddAsync(long reservationId)
    {
        var first = state.State.ReservationIds.Count == 0;
        if (!state.State.ReservationIds.Add(reservationId))
        {
            return;
        }

        await state.WriteStateAsync();
        if (first)
        {
            var key = this.GetPrimaryKeyString();
            var slash = key.IndexOf('/', StringComparison.Ordinal);
            await GrainFactory.GetGrain<ITwinGrain>(long.Parse(key[..slash], System.Globalization.CultureInfo.InvariantCulture))
                .AddReservationBucketAsync(long.Parse(key[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    public Task<ImmutableArray<long>> GetAsync() => Task.FromResult(state.State.ReservationIds.Reverse().ToImmutableArray());
}
