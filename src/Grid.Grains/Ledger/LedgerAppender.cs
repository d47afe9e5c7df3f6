using System.Collections.Immutable;
using Grid.Grains;
using Microsoft.Extensions.Logging;

namespace Grid.Ledger;

/// <summary>
/// The silo's way into the ledger: collects the appends of every grain of this silo and sends what arrived
/// meanwhile to the ledger grain as one <see cref="ILedgerGrain.AppendBatchAsync"/> call, so the single writer
/// handles batches instead of one call and answer per entry. Each caller still gets its own entry, only once it
/// is durable (and its accounts told); idempotency by event id and the chain are the ledger grain's, unchanged.
/// A failed call fails the appends it carried (each caller retries as it would a failed grain call).
/// </summary>
public sealed partial class LedgerAppender(IGrainFactory grains, ILedgerStore store, ILogger<LedgerAppender> logger)
{
    /// <summary>Most appends per call (the ledger splits them into its own group commits anyway).</summary>
    private const int MaxBatch = 4096;

    /// <summary>
    /// Calls in flight at once. Each waits until its entries are durable, so with too few an append that arrives
    /// while all are out misses the ledger's next group commit (measured: 4 calls were slower than a call per
    /// append at 128 callers); an append waits in the appender only while this many calls are out.
    /// </summary>
    private const int MaxCalls = 16;

    private readonly Lock _lock = new();
    private List<Waiting> _waiting = [];
    private int _calls;
    private ILedgerGrain? _ledger;

    private ILedgerGrain Ledger => _ledger ??= grains.GetGrain<ILedgerGrain>(0);

    /// <summary>
    /// Which of <paramref name="eventIds"/> the ledger already holds, read from its store (no call to the ledger
    /// grain). For appends that may have been made before (events kept in a durable record since an earlier activation):
    /// the ledger grain remembers only its recent ids, and an id it forgot reaches the store, which refuses the whole
    /// group commit it rides in.
    /// </summary>
    public async Task<IReadOnlySet<string>> HeldAsync(IReadOnlyCollection<string> eventIds) =>
        (await store.FindAsync(eventIds)).Select(e => e.EventId).ToHashSet(StringComparer.Ordinal);

    /// <summary>Appends (or finds the entry already appended with the same event id) and answers it once durable.</summary>
    public Task<LedgerEntry> AppendAsync(LedgerAppend append)
    {
        // Refused here, alone, rather than failing the whole call it would travel in.
        try
        {
            LedgerRules.Validate(append);
        }
        catch (GridRequestException e)
        {
            return Task.FromException<LedgerEntry>(e);
        }

        var waiting = new Waiting(append);
        Queue(waiting);
        return waiting.Entry.Task;
    }

    /// <summary>
    /// Appends several entries as one item (a placement batch's events): answered once all are durable, failed when
    /// the call carrying them fails. Cheaper per entry than <see cref="AppendAsync"/>: no task per entry.
    /// </summary>
    public Task AppendManyAsync(IReadOnlyList<LedgerAppend> appends)
    {
        try
        {
            foreach (var append in appends)
            {
                LedgerRules.Validate(append);
            }
        }
        catch (GridRequestException e)
        {
            return Task.FromException(e);
        }

        var waiting = new Waiting(appends);
        Queue(waiting);
        return waiting.Done.Task;
    }

    private void Queue(Waiting waiting)
    {
        bool send;
        lock (_lock)
        {
            _waiting.Add(waiting);
            send = _calls < MaxCalls;
            if (send)
            {
                _calls++;
            }
        }

        if (send)
        {
            // On the thread pool, never on the calling grain's scheduler (the loop outlives the caller's turn).
            _ = Task.Run(SendAsync);
        }
    }

    private async Task SendAsync()
    {
        while (true)
        {
            List<Waiting> batch;
            lock (_lock)
            {
                if (_waiting.Count == 0)
                {
                    _calls--;
                    return;
                }

                var take = ItemsInCall(_waiting, w => w.Count, MaxBatch);
                if (take == _waiting.Count)
                {
                    (batch, _waiting) = (_waiting, []);
                }
                else
                {
                    batch = _waiting.GetRange(0, take);
                    _waiting.RemoveRange(0, take);
                }
            }

            try
            {
                var appends = ImmutableArray.CreateBuilder<LedgerAppend>();
                batch.ForEach(w => w.AddTo(appends));
                var entries = await Ledger.AppendBatchAsync(appends.ToImmutable());
                var next = 0;
                batch.ForEach(w => next = w.Answer(entries, next));
            }
            catch (Exception e)
            {
                LogFailed(logger, e, batch.Count, e.Message);
                batch.ForEach(w => w.Fail(e));
            }
        }
    }

    /// <summary>
    /// How many of the waiting <paramref name="items"/> (from the front) one call carries: whole items, at most
    /// <paramref name="maxAppends"/> appends, and always at least one. Counted in appends, not items: a placement
    /// batch's item holds up to 128, and a backlog built while the ledger stalled would otherwise leave in one call
    /// of hundreds of thousands of appends (past Orleans' message size limit when the ledger grain is on another silo).
    /// </summary>
    public static int ItemsInCall<T>(IReadOnlyList<T> items, Func<T, int> appendsOf, int maxAppends)
    {
        var take = 0;
        for (var appends = 0; take < items.Count; take++)
        {
            appends += appendsOf(items[take]);
            if (appends > maxAppends && take > 0)
            {
                break;
            }
        }

        return take;
    }

    /// <summary>One append answered with its entry, or several answered together.</summary>
    private sealed class Waiting
    {
        private readonly LedgerAppend? _one;
        private readonly IReadOnlyList<LedgerAppend>? _many;

        public Waiting(LedgerAppend append)
        {
            _one = append;
            Entry = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public Waiting(IReadOnlyList<LedgerAppend> appends)
        {
            _many = appends;
            Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public TaskCompletionSource<LedgerEntry> Entry { get; } = null!;

        public TaskCompletionSource Done { get; } = null!;

        public int Count => _many?.Count ?? 1;

        public void AddTo(ImmutableArray<LedgerAppend>.Builder appends)
        {
            if (_many is null)
            {
                appends.Add(_one!);
            }
            else
            {
                appends.AddRange(_many);
            }
        }

        /// <summary>Answers from <paramref name="entries"/> at <paramref name="at"/>; where the next item's start.</summary>
        public int Answer(ImmutableArray<LedgerEntry> entries, int at)
        {
            if (_many is null)
            {
                Entry.TrySetResult(entries[at]);
                return at + 1;
            }

            Done.TrySetResult();
            return at + _many.Count;
        }

        public void Fail(Exception exception)
        {
            Entry?.TrySetException(exception);
            Done?.TrySetException(exception);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} ledger appends failed (their callers retry): {Reason}")]
    private static partial void LogFailed(ILogger logger, Exception exception, int count, string reason);
}
