using System.Collections.Immutable;
using System.Diagnostics;
using Grid.Grains;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace Grid.Ledger;

/// <summary>
/// The single writer of the ledger (key 0). Reentrant with group commit: appends that arrive while a batch is
/// being written wait together for the next batch, which is one store transaction, so the ledger keeps up with
/// placement and billing while every append is durable when it returns. Idempotent by event id (a recent-entry
/// cache; the store refuses an event id it holds, and the refused batch is retried after looking its ids up, so a
/// retry after a failover adds nothing). The head is read from the store on activation and after any failed or
/// refused write; the store refuses a sequence number it already holds, so a second activation racing this one
/// never forks the chain.
/// </summary>
[Reentrant]
public sealed partial class LedgerGrain(
    ILedgerStore store,
    GridClock clock,
    LedgerSigner signer,
    LedgerMetrics metrics,
    IOptions<LedgerOptions> options,
    ILogger<LedgerGrain> logger) : Grain, ILedgerGrain
{
    private const int MaxConflicts = 5;

    private readonly List<Pending> _queue = [];
    private readonly Dictionary<string, Pending> _queued = new(StringComparer.Ordinal);
    private readonly RecentEntries _recent = new(100_000);
    private long _refused;
    // The durable head, and the head after the last batch linked (written or still being written); null: read
    // from the store before the next batch.
    private LedgerHead? _head;
    private LedgerHead? _tail;
    private long _checkpointSeq;
    private DateTimeOffset _checkpointAt;
    private bool _checkpointing;
    private Task? _flush;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var head = _head = await store.ReadHeadAsync(cancellationToken);
        var recent = await store.ReadCheckpointsAsync(Math.Max(0, head.Seq - options.Value.CheckpointEvery), int.MaxValue, cancellationToken);
        _checkpointSeq = recent.Count > 0 ? recent[^1].Seq : 0;
        _checkpointAt = clock.UtcNow;
        var interval = options.Value.CheckpointInterval;
        this.RegisterGrainTimer(CheckpointIfDueAsync, new GrainTimerCreationOptions(interval, interval) { Interleave = true });
        LogActivated(logger, head.Seq, signer.PublicKey);
    }

    public Task<LedgerEntry> AppendAsync(LedgerAppend append)
    {
        LedgerRules.Validate(append);
        return Enqueue(append);
    }

    public async Task<ImmutableArray<LedgerEntry>> AppendBatchAsync(ImmutableArray<LedgerAppend> appends)
    {
        foreach (var append in appends)
        {
            LedgerRules.Validate(append);
        }

        var entries = new Task<LedgerEntry>[appends.Length];
        for (var i = 0; i < appends.Length; i++)
        {
            entries[i] = Enqueue(appends[i]);
        }

        return [.. await Task.WhenAll(entries)];
    }

    public Task<LedgerStatus> GetStatusAsync() => Task.FromResult(new LedgerStatus(_head?.Seq ?? -1, _queued.Count) { Refused = _refused });

    private Task<LedgerEntry> Enqueue(LedgerAppend append)
    {
        if (_recent.TryGet(append.EventId, out var known))
        {
            return Task.FromResult(known);
        }

        if (!_queued.TryGetValue(append.EventId, out var pending))
        {
            pending = new Pending(append, Stopwatch.GetTimestamp());
            _queued.Add(append.EventId, pending);
            _queue.Add(pending);
            if (_flush is null || _flush.IsCompleted)
            {
                _flush = FlushLoopAsync();
            }
        }

        return pending.Completion.Task;
    }

    /// <summary>
    /// Writes the queue in batches, two in flight: while one batch's commit waits for the disk, the next is
    /// linked (hashed onto the first's last entry) and written, to commit only after the first did. When a write
    /// fails, the one behind it fails too, and the chain is linked again from the durable head once both ended.
    /// </summary>
    private async Task FlushLoopAsync()
    {
        // Let the appends already queued on this activation join the first batch.
        await Task.Yield();
        Batch? previous = null;
        while (true)
        {
            if (_queue.Count == 0 || (_tail is null && previous is not null))
            {
                if (previous is null)
                {
                    return;
                }

                await previous.Finished;
                previous = null;
                continue;
            }

            var batch = _queue.GetRange(0, Math.Min(_queue.Count, Math.Max(1, options.Value.MaxBatch)));
            _queue.RemoveRange(0, batch.Count);
            var current = await StartAsync(batch, previous);
            if (previous is not null)
            {
                await previous.Finished;
            }

            previous = current;
        }
    }

    /// <summary>Links the batch after the last linked entry and starts its write (null when it failed before).</summary>
    private async Task<Batch?> StartAsync(List<Pending> batch, Batch? previous)
    {
        LedgerHead tail;
        IReadOnlyList<LedgerEntry> stored;
        try
        {
            tail = _tail ??= _head ??= await store.ReadHeadAsync();
            // Optimistic: an event id already stored (a retry after a failover, or a racing activation) makes the
            // store refuse the batch, and the retry looks the batch's ids up first — one round trip saved per batch.
            stored = batch.Exists(p => p.Conflicts > 0) ? await store.FindAsync([.. batch.Select(p => p.Append.EventId)]) : [];
        }
        catch (Exception e)
        {
            _head = _tail = null;
            Fail(batch, e);
            return null;
        }

        var existing = stored.Count == 0 ? null : stored.ToDictionary(e => e.EventId, StringComparer.Ordinal);
        var written = new List<LedgerEntry>(batch.Count);
        var results = new LedgerEntry[batch.Count];
        var now = clock.UtcNow;
        for (var i = 0; i < batch.Count; i++)
        {
            if (existing is not null && existing.TryGetValue(batch[i].Append.EventId, out var entry))
            {
                results[i] = entry;
                continue;
            }

            entry = results[i] = LedgerCanonical.Link(tail.Seq + 1, tail.Hash, now, batch[i].Append);
            tail = new LedgerHead(entry.Seq, entry.Hash);
            written.Add(entry);
        }

        _tail = tail;
        Task write;
        try
        {
            write = written.Count == 0 ? previous?.Write ?? Task.CompletedTask
                : previous is null ? store.AppendAsync(written)
                : store.AppendAfterAsync(written, previous.Write);
        }
        catch (Exception e)
        {
            // A store that throws instead of answering a faulted task: the batch's failure all the same (requeued or
            // failed, the chain relinked from the durable head), never the end of the flush loop.
            write = Task.FromException(e);
        }

        return new Batch(write, FinishAsync(batch, results, written.Count, tail, write, previous));
    }

    /// <summary>After the batch's write: the durable head moves and the appends are answered (or requeued, or failed).</summary>
    private async Task FinishAsync(List<Pending> batch, LedgerEntry[] results, int written, LedgerHead head, Task write, Batch? previous)
    {
        if (previous is not null)
        {
            // In chain order, also when the writes' continuations run out of order.
            await previous.Finished;
        }

        try
        {
            await write;
        }
        catch (Exception e)
        {
            // Refused (another writer moved the head), unknown outcome, or the write before it failed: read the
            // head again before writing more.
            _head = _tail = null;
            var behindFailure = previous?.Write is { IsCompletedSuccessfully: false };
            if (e is LedgerConflictException && !behindFailure)
            {
                _refused++;
                metrics.Refused();
            }

            if (behindFailure || (e is LedgerConflictException && batch.TrueForAll(p => p.Conflicts < MaxConflicts)))
            {
                LogConflict(logger, e, batch.Count, e.Message);
                batch.ForEach(p => p.Conflicts += behindFailure ? 0 : 1);
                _queue.InsertRange(0, batch);
                return;
            }

            LogFailed(logger, e, batch.Count);
            Fail(batch, e);
            return;
        }

        _head = head;
        var durable = Stopwatch.GetTimestamp();
        for (var i = 0; i < batch.Count; i++)
        {
            _queued.Remove(batch[i].Append.EventId);
            _recent.Add(results[i]);
            metrics.AppendLatency(Stopwatch.GetElapsedTime(batch[i].Arrived, durable));
        }

        metrics.Appended(written);
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Completion.TrySetResult(results[i]);
        }

        if (head.Seq - _checkpointSeq >= options.Value.CheckpointEvery)
        {
            await CheckpointAsync();
        }
    }

    private void Fail(List<Pending> batch, Exception e)
    {
        foreach (var pending in batch)
        {
            _queued.Remove(pending.Append.EventId);
            pending.Completion.TrySetException(e);
        }
    }

    private Task CheckpointIfDueAsync(CancellationToken cancellationToken) =>
        _head is { } head && head.Seq > _checkpointSeq && clock.UtcNow - _checkpointAt >= options.Value.CheckpointInterval
            ? CheckpointAsync()
            : Task.CompletedTask;

    private async Task CheckpointAsync()
    {
        if (_checkpointing || _head is not { } head || head.Seq <= _checkpointSeq)
        {
            return;
        }

        _checkpointing = true;
        try
        {
            var checkpoint = signer.Sign(head, clock.UtcNow);
            await store.AppendCheckpointAsync(checkpoint);
            _checkpointSeq = Math.Max(_checkpointSeq, checkpoint.Seq);
            _checkpointAt = checkpoint.At;
            metrics.Checkpointed();
        }
        catch (Exception e)
        {
            // The next batch or timer tick tries again; the chain itself is already durable.
            LogCheckpointFailed(logger, e, head.Seq, e.Message);
        }
        finally
        {
            _checkpointing = false;
        }
    }

    /// <summary>A batch in flight: its write, and its finish (head moved, appends answered or requeued; never throws).</summary>
    private sealed record Batch(Task Write, Task Finished);

    private sealed class Pending(LedgerAppend append, long arrived)
    {
        public LedgerAppend Append { get; } = append;

        public long Arrived { get; } = arrived;

        public int Conflicts { get; set; }

        public TaskCompletionSource<LedgerEntry> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Ledger active at sequence {Seq}; checkpoints signed by {PublicKey}")]
    private static partial void LogActivated(ILogger logger, long seq, string publicKey);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger batch of {Count} refused by the store ({Reason}); reloading the head and retrying")]
    private static partial void LogConflict(ILogger logger, Exception exception, int count, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger batch of {Count} failed; the head is read again before the next batch")]
    private static partial void LogFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger checkpoint at {Seq} not written: {Reason}")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception, long seq, string reason);
}
