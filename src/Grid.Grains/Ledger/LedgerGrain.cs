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
    private const int MaxTrackedAccounts = 1_000_000;

    private readonly List<Pending> _queue = [];
    private readonly Dictionary<string, Pending> _queued = new(StringComparer.Ordinal);
    private readonly RecentEntries _recent = new(100_000);
    // The last entry this activation wrote per account, so account grains can tell a gap (null: not known).
    private readonly Dictionary<long, long> _lastSeqByAccount = [];
    private LedgerHead? _head;
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

    public Task<LedgerStatus> GetStatusAsync() => Task.FromResult(new LedgerStatus(_head?.Seq ?? -1, _queued.Count));

    private async Task FlushLoopAsync()
    {
        // Let the appends already queued on this activation join the first batch.
        await Task.Yield();
        while (_queue.Count > 0)
        {
            var batch = _queue.GetRange(0, Math.Min(_queue.Count, Math.Max(1, options.Value.MaxBatch)));
            _queue.RemoveRange(0, batch.Count);
            await FlushAsync(batch);
        }
    }

    private async Task FlushAsync(List<Pending> batch)
    {
        LedgerHead head;
        List<LedgerEntry> written = [];
        var results = new LedgerEntry[batch.Count];
        IReadOnlyList<LedgerEntry> stored;
        try
        {
            head = _head ??= await store.ReadHeadAsync();
            // Optimistic: an event id already stored (a retry after a failover, or a racing activation) makes the
            // store refuse the batch, and the retry looks the batch's ids up first — one round trip saved per batch.
            stored = batch.Exists(p => p.Conflicts > 0) ? await store.FindAsync([.. batch.Select(p => p.Append.EventId)]) : [];
            var existing = stored.ToDictionary(e => e.EventId, StringComparer.Ordinal);
            var now = clock.UtcNow;
            for (var i = 0; i < batch.Count; i++)
            {
                if (existing.TryGetValue(batch[i].Append.EventId, out var entry))
                {
                    results[i] = entry;
                    continue;
                }

                entry = results[i] = LedgerCanonical.Link(head.Seq + 1, head.Hash, now, batch[i].Append);
                head = new LedgerHead(entry.Seq, entry.Hash);
                written.Add(entry);
            }

            if (written.Count > 0)
            {
                await store.AppendAsync(written);
            }
        }
        catch (Exception e)
        {
            // Refused (another writer moved the head) or unknown outcome: read the head again before writing more.
            _head = null;
            _lastSeqByAccount.Clear();
            if (e is LedgerConflictException && batch.TrueForAll(p => p.Conflicts < MaxConflicts))
            {
                LogConflict(logger, batch.Count, e.Message);
                batch.ForEach(p => p.Conflicts++);
                _queue.InsertRange(0, batch);
                return;
            }

            LogFailed(logger, e, batch.Count);
            foreach (var pending in batch)
            {
                _queued.Remove(pending.Append.EventId);
                pending.Completion.TrySetException(e);
            }

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

        metrics.Appended(written.Count);
        _ = CompleteAsync(batch, results, Notifications(written, stored));
        if (head.Seq - _checkpointSeq >= options.Value.CheckpointEvery)
        {
            await CheckpointAsync();
        }
    }

    /// <summary>What each account must apply, chained to the entry that touched it before (null: not known here).</summary>
    private Dictionary<long, AccountPostings> Notifications(List<LedgerEntry> written, IReadOnlyList<LedgerEntry> stored)
    {
        if (_lastSeqByAccount.Count > MaxTrackedAccounts)
        {
            _lastSeqByAccount.Clear();
        }

        var items = new Dictionary<long, (long? Prev, ImmutableArray<AccountPosting>.Builder Items)>();
        foreach (var entry in written)
        {
            foreach (var posting in entry.Postings)
            {
                if (!items.TryGetValue(posting.AccountId, out var account))
                {
                    long? prev = _lastSeqByAccount.TryGetValue(posting.AccountId, out var seq) ? seq : null;
                    items[posting.AccountId] = account = (prev, ImmutableArray.CreateBuilder<AccountPosting>());
                }

                account.Items.Add(new AccountPosting(entry.Seq, entry.Kind, posting.Amount));
            }

            foreach (var posting in entry.Postings)
            {
                _lastSeqByAccount[posting.AccountId] = entry.Seq;
            }
        }

        var notifications = items.ToDictionary(i => i.Key, i => new AccountPostings(i.Value.Prev, i.Value.Items.ToImmutable()));
        // An entry found already stored was written by an earlier activation that may have died before telling
        // its accounts: make them fold again.
        foreach (var accountId in stored.SelectMany(e => e.Postings).Select(p => p.AccountId).Where(a => !notifications.ContainsKey(a)))
        {
            notifications[accountId] = new AccountPostings(null, []);
        }

        return notifications;
    }

    /// <summary>Tells the accounts, then answers the appends: an acknowledged entry is already in its accounts.</summary>
    private async Task CompleteAsync(List<Pending> batch, LedgerEntry[] results, Dictionary<long, AccountPostings> notifications)
    {
        await Task.WhenAll(notifications.Select(n => NotifyAsync(n.Key, n.Value)));
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Completion.TrySetResult(results[i]);
        }
    }

    private async Task NotifyAsync(long accountId, AccountPostings postings)
    {
        try
        {
            await GrainFactory.GetGrain<IAccountGrain>(accountId).ApplyAsync(postings);
        }
        catch (Exception e)
        {
            // The entry is durable; an account that missed it folds again from the store when it reactivates
            // or sees the gap at its next notification.
            LogNotifyFailed(logger, accountId, e.Message);
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
            LogCheckpointFailed(logger, head.Seq, e.Message);
        }
        finally
        {
            _checkpointing = false;
        }
    }

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
    private static partial void LogConflict(ILogger logger, int count, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger batch of {Count} failed; the head is read again before the next batch")]
    private static partial void LogFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Account {AccountId} was not told of new ledger entries: {Reason}")]
    private static partial void LogNotifyFailed(ILogger logger, long accountId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger checkpoint at {Seq} not written: {Reason}")]
    private static partial void LogCheckpointFailed(ILogger logger, long seq, string reason);
}
