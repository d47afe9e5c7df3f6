using System.Collections.Immutable;
using Grid.Grains;
using Orleans.Concurrency;

namespace Grid.Twins;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.twin-reservations")]
public sealed class TwinReservationsState
{
    /// <summary>Ascending. A list (not a sorted set) because every group commit copies it: an array copies fast.</summary>
    [Id(0)] public List<long> ReservationIds { get; set; } = [];

    /// <summary>Inserts in order; ids arrive mostly ascending, so this is usually an append.</summary>
    public void Add(long reservationId)
    {
        var ids = ReservationIds;
        if (ids.Count == 0 || ids[^1] < reservationId)
        {
            ids.Add(reservationId);
        }
        else if (ids.BinarySearch(reservationId) is var index && index < 0)
        {
            ids.Insert(~index, reservationId);
        }
    }
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

    public Task AddAsync(long reservationId) => AddManyAsync([reservationId]);

    public async Task AddManyAsync(ImmutableArray<long> reservationIds)
    {
        // A caller whose id is already here (a retry, or added by a write still in flight) waits all the same.
        foreach (var id in reservationIds)
        {
            _state.State.Add(id);
        }

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

    public Task<ImmutableArray<long>> GetAsync() => Task.FromResult(_state.State.ReservationIds.AsEnumerable().Reverse().ToImmutableArray());
}
