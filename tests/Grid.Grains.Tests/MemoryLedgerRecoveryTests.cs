using Grid.Ledger;
using Grid.Testing;
using Orleans.Core.Internal;

namespace Grid.Grains.Tests;

/// <summary>
/// The ledger grain on the plain memory store (the embedded grid's), not the gated test store: an append of an event id
/// the grain no longer remembers (it reactivated, or 100,000 entries passed) reaches the store, which refuses the
/// batch. That refusal must be handled like any failed write — the stored entry answered, the ledger writing on.
/// The memory store threw it instead of answering a faulted task, which ended the grain's flush loop: every later
/// append waited forever (a placement burst of 300k reservations stopped the ledger at ≈ 100k entries).
/// </summary>
public sealed class MemoryLedgerRecoveryTests : IAsyncLifetime
{
    private readonly MemoryLedgerStore _store = new();
    private GridCluster _grid = null!;

    public async Task InitializeAsync() => _grid = await GridCluster.StartAsync(_store);

    public async Task DisposeAsync() => await _grid.DisposeAsync();

    [Fact]
    public async Task AnEventIdTheLedgerForgotIsAnsweredWithItsStoredEntryAndTheLedgerKeepsWriting()
    {
        var ledger = _grid.Grains.GetGrain<ILedgerGrain>(0);
        var eventId = $"test:{GridCluster.NewId()}:forgotten";
        var first = await ledger.AppendAsync(Note(eventId));
        await ledger.AppendAsync(Note($"{eventId}:after"));

        // Reactivated, the grain remembers no event ids: the store is what refuses the second copy.
        await ledger.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        var again = await ledger.AppendAsync(Note(eventId)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(first, again);

        var next = await ledger.AppendAsync(Note($"{eventId}:next")).WaitAsync(TimeSpan.FromSeconds(30));
        var stored = await _store.ReadAsync(1, int.MaxValue);
        Assert.Single(stored, e => e.EventId == eventId);
        Assert.Equal(stored[^1], next);
        Assert.Equal(stored[^2].Hash, next.PrevHash);
    }

    [Fact]
    public async Task TheMemoryStoreRefusesAConflictAsAFaultedTaskAndChangesNothing()
    {
        var entry = LedgerCanonical.Link(1, LedgerCanonical.GenesisHash, DateTimeOffset.UnixEpoch, Note("test:conflict"));
        var store = new MemoryLedgerStore();
        await store.AppendAsync([entry]);

        var refused = store.AppendAsync([LedgerCanonical.Link(2, entry.Hash, DateTimeOffset.UnixEpoch, Note("test:conflict"))]);
        await Assert.ThrowsAsync<LedgerConflictException>(() => refused);
        Assert.Equal(1, (await store.ReadHeadAsync()).Seq);
    }

    [Fact]
    public async Task AReservationDoesNotSendItsPlacedEventToTheStoreAgainOnceTheLedgerForgotIt()
    {
        var twin = GridCluster.NewId();
        await _grid.RegisterNodeAsync(await _grid.CreateFarmAsync(twin), twin, new Capacity(4, 8L << 30, 100L << 30, 0));
        var reservation = await _grid.ReserveAsync(twin, new Capacity(1, 1L << 30, 0, 0));
        var placed = $"reservation:{reservation.ReservationId}:placed:1";
        await Poll.UntilAsync(async () => (await _store.FindAsync([placed])).Count == 1, TimeSpan.FromSeconds(30), "the placed event in the ledger");

        // The ledger grain forgets its recent ids (as after 100,000 entries); the reservation's record still carries
        // its placed event, which the placer appended. Its first flush (here the cancellation's) must not append it
        // again: the store would refuse the group commit it rides in, and every other append in it would wait a retry.
        var ledger = _grid.Grains.GetGrain<ILedgerGrain>(0);
        await ledger.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        Assert.True(await _grid.Grains.GetGrain<IReservationGrain>(reservation.ReservationId).CancelAsync());

        Assert.Equal(0, (await ledger.GetStatusAsync()).Refused);
        var stored = await _store.ReadAsync(1, int.MaxValue);
        Assert.Single(stored, e => e.EventId == placed);
        Assert.Single(stored, e => e.Kind == "reservation.cancelled" && e.Subject == $"reservation:{reservation.ReservationId}");
    }

    private static LedgerAppend Note(string eventId) => new(eventId, "test.note", "test", "test", null, []);
}
