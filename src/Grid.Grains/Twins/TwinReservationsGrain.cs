using System.Collections.Immutable;
using Grid.Grains;
using Orleans.Concurrency;

namespace Grid.Twins;

[GenerateSerializer, Alias("grid.state.twin-reservations")]
public sealed class TwinReservationsState
{
    [Id(0)] public SortedSet<long> ReservationIds { get; set; } = [];
}

/// <summary>
/// A bucket of one twin's reservation ids; the twin learns of the bucket when its first id arrives. Reentrant
/// with group commit: consecutive ids of a burst of placements land here together and share writes.
/// </summary>
[Reentrant]
public sealed class TwinReservationsGrain : Grain, ITwinReservationsGrain
{
    private readonly IPersistentState<TwinReservationsState> _state;
    private readonly WriteCoalescer _writer;
    private Task? _announced;

    public TwinReservationsGrain([PersistentState("twin-reservations", GridStorage.Name)] IPersistentState<TwinReservationsState> state)
    {
        _state = state;
        _writer = new WriteCoalescer(() => state.WriteOrDeactivateAsync(this));
    }

    public async Task AddAsync(long reservationId)
    {
        // A caller whose id is already here (a retry, or added by a write still in flight) waits all the same.
        _state.State.ReservationIds.Add(reservationId);
        await _writer.WriteAsync();

        // Every caller waits until the twin knows this bucket, so a listing right after shows the reservation.
        var announce = _announced ??= AnnounceAsync();
        try
        {
            await announce;
        }
        catch when (ReferenceEquals(_announced, announce))
        {
            // Try again with the next caller rather than failing every later one.
            _announced = null;
            throw;
        }
    }

    private async Task AnnounceAsync()
    {
        var key = this.GetPrimaryKeyString();
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        await GrainFactory.GetGrain<ITwinGrain>(long.Parse(key[..slash], System.Globalization.CultureInfo.InvariantCulture))
            .AddReservationBucketAsync(long.Parse(key[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    public Task<ImmutableArray<long>> GetAsync() => Task.FromResult(_state.State.ReservationIds.Reverse().ToImmutableArray());
}
