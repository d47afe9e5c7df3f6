using Orleans.Storage;

namespace Grid.Reservations;

/// <summary>
/// Every write of a reservation's record goes through here: the placer's insert of a new record, the activation's
/// writes and its tombstone, and the re-reads that keep an activation from answering older than storage.
/// </summary>
/// <remarks>
/// New reservations are written by the silo's <see cref="ReservationPlacer"/>, not by an activation
/// (<see cref="InsertAsync"/>), so an activation that found no record may be older than the record: before a call
/// it reads storage again (<see cref="BeforeCallAsync"/>; cheap: only ids asked about before they existed, or that
/// never existed, come there). The epoch a placement is writing counts as held meanwhile (<see cref="IsPlacing"/>),
/// so the orphan and leak checks, which interleave, do not take back what is about to be acknowledged.
/// </remarks>
public sealed class ReservationStore(IPersistentState<ReservationRecord> state, IGrainBase grain, GridClock clock)
{
    /// <summary>The record's grain state name in <see cref="GridStorage.Name"/>.</summary>
    public const string StateName = "reservation";

    private const int MaxEvents = 200;

    // The state read at activation is fresh for the call that caused it; later calls of an activation that found
    // nothing read storage again.
    private bool _freshRead = true;

    // While this activation's create waits for the placer: storage is about to hold the record.
    private bool _creating;

    // The placement under way, from its allocation on a node until its record is durable and read (or it failed):
    // its epoch, and a task that ends with it.
    private (long Epoch, Task Done)? _placing;

    public ReservationRecord Record => state.State;

    /// <summary>A placement landed: the reservation exists (cancelled ones too).</summary>
    public bool Exists => Record.Request is not null;

    /// <summary>Holds a placement: exists and is neither cancelled nor preempted.</summary>
    public bool Holding => Exists && Record.State is not (ReservationState.Cancelled or ReservationState.Preempted);

    /// <summary>This id was given up before a placement landed (see <see cref="GoneAsync"/>): it is never placed.</summary>
    public bool Retired => !Exists && state.RecordExists;

    /// <summary>
    /// Writes a new reservation's record for the placer, insert-only: it never overwrites what an activation stored
    /// for the id (a tombstone), and fails instead.
    /// </summary>
    public static Task InsertAsync(IGrainStorage storage, GrainId reservation, ReservationRecord record) =>
        // ETag null: insert only.
        storage.WriteStateAsync(StateName, reservation, new GrainState<ReservationRecord>(record));

    /// <summary>Before each call of the activation: a record that was missing may have been inserted meanwhile.</summary>
    public async Task BeforeCallAsync()
    {
        if (!state.RecordExists && !_freshRead && !_creating)
        {
            await state.ReadStateAsync();
        }

        _freshRead = false;
    }

    /// <summary>Runs the placer's first placement of this id (epoch 1) and, once it landed, reads the record it wrote.</summary>
    public async Task<ReservationOutcome> CreateAsync(Func<Task<ReservationOutcome>> place)
    {
        _creating = true;
        try
        {
            // The record is read before the placement counts as over: a question waiting for it (PlacedAsync) then
            // finds the record, never the gap between the placer's write and this activation's read.
            return await PlacingAsync(1, async () =>
            {
                var outcome = await place();
                if (outcome.Reservation is not null)
                {
                    // The placer wrote the record: this activation serves it from now on.
                    await state.ReadStateAsync();
                }

                return outcome;
            });
        }
        finally
        {
            _creating = false;
        }
    }

    /// <summary>Runs a placement of <paramref name="epoch"/>, which <see cref="IsPlacing"/> reports as held meanwhile.</summary>
    public async Task<T> PlacingAsync<T>(long epoch, Func<Task<T>> place)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _placing = (epoch, done.Task);
        try
        {
            return await place();
        }
        finally
        {
            _placing = null;
            done.SetResult();
        }
    }

    public bool IsPlacing(long epoch) => _placing?.Epoch == epoch;

    /// <summary>
    /// Ends when no placement of <paramref name="epoch"/> is under way any more: at once when none is, else when the
    /// one under way has landed (its record read) or failed. Another may have started by then; ask again.
    /// </summary>
    public Task PlacedAsync(long epoch) => _placing is { } placing && placing.Epoch == epoch ? placing.Done : Task.CompletedTask;

    /// <summary>
    /// Before an answer that makes the caller let go of something (an allocation, an address, a billing slot):
    /// true if this reservation does not exist, and then it never will. An id with no record gets a tombstone,
    /// written insert-only, so a placement whose record has not landed yet fails instead of landing later on
    /// capacity that was let go (if it landed first, the tombstone's write fails and so does this call).
    /// </summary>
    public async Task<bool> GoneAsync()
    {
        if (Exists || _creating)
        {
            return false;
        }

        if (!state.RecordExists)
        {
            await state.WriteOrDeactivateAsync(grain);
        }

        return true;
    }

    /// <summary>Makes the record's changes durable; a failed write drops the activation (see <see cref="GridStorage"/>).</summary>
    public Task WriteAsync() => state.WriteOrDeactivateAsync(grain);

    /// <summary>Moves the record's state by a legal step of <see cref="ReservationLifecycle"/>.</summary>
    public void Fire(ReservationTrigger trigger) => Record.State = ReservationLifecycle.Fire(Record.State, trigger);

    /// <summary>Records an event (with the record's current epoch), kept with the next write; the oldest beyond 200 are dropped.</summary>
    public void AddEvent(string kind, long? nodeId, string message)
    {
        var now = clock.UtcNow;
        Record.UpdatedAt = now;
        Record.Events.Add(new ReservationEvent(now, kind, nodeId, Record.Epoch, message));
        if (Record.Events.Count > MaxEvents)
        {
            Record.Events.RemoveRange(0, Record.Events.Count - MaxEvents);
        }
    }
}
