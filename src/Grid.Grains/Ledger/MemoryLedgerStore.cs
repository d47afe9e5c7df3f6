namespace Grid.Ledger;

/// <summary>
/// The ledger of the single-silo memory mode: the same chain, idempotency and folds as the PostgreSQL store,
/// kept in this process. Nothing survives a restart (the host says so loudly in memory mode). Entries are kept
/// compact (<see cref="CompactLedgerEntry"/>: a million reservations place a million entries) and expanded when read.
/// </summary>
public sealed class MemoryLedgerStore : ILedgerStore
{
    private readonly Lock _lock = new();
    private readonly List<CompactLedgerEntry> _entries = [];
    private readonly StringPool _pool = new();
    private readonly Dictionary<string, long> _seqByEventId = new(StringComparer.Ordinal);
    private readonly Dictionary<long, List<long>> _seqsByAccount = [];
    private readonly Dictionary<long, AccountTotals> _accounts = [];
    private readonly List<LedgerCheckpoint> _checkpoints = [];

    public Task<LedgerHead> ReadHeadAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(_entries.Count == 0 ? LedgerHead.Empty : new LedgerHead(_entries[^1].Seq, _entries[^1].HashText()));
        }
    }

    public Task<IReadOnlyList<LedgerEntry>> ReadAsync(long fromSeq, int limit, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var start = (int)Math.Clamp(fromSeq - 1, 0, _entries.Count);
            var count = Math.Clamp(limit, 0, _entries.Count - start);
            var page = new LedgerEntry[count];
            for (var i = 0; i < count; i++)
            {
                page[i] = Expanded(start + i);
            }

            return Task.FromResult<IReadOnlyList<LedgerEntry>>(page);
        }
    }

    public Task<IReadOnlyList<LedgerCheckpoint>> ReadCheckpointsAsync(long fromSeq, int limit, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<LedgerCheckpoint>>(_checkpoints.Where(c => c.Seq >= fromSeq).Take(limit).ToArray());
        }
    }

    public Task<IReadOnlyList<AccountTransaction>> ReadAccountAsync(long accountId, int skip, int limit, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var seqs = _seqsByAccount.GetValueOrDefault(accountId) ?? [];
            var page = Enumerable.Range(0, seqs.Count).Reverse().Skip(skip).Take(limit)
                .Select(i => Expanded((int)seqs[i] - 1))
                .Select(e => new AccountTransaction(e, e.Postings.Where(p => p.AccountId == accountId).Sum(p => p.Amount)))
                .ToArray();
            return Task.FromResult<IReadOnlyList<AccountTransaction>>(page);
        }
    }

    public Task<AccountTotals> FoldAccountAsync(long accountId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(_accounts.GetValueOrDefault(accountId, AccountTotals.Empty));
        }
    }

    public Task<IReadOnlyList<LedgerEntry>> FindAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<LedgerEntry>>(eventIds
                .Where(_seqByEventId.ContainsKey)
                .Select(id => Expanded((int)_seqByEventId[id] - 1))
                .ToArray());
        }
    }

    public Task AppendAsync(IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            // Checked before anything changes, so a refused batch leaves the ledger as it was.
            var next = _entries.Count + 1L;
            var ids = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in entries)
            {
                if (entry.Seq != next++ || _seqByEventId.ContainsKey(entry.EventId) || !ids.Add(entry.EventId))
                {
                    // A faulted task, as every store answers: thrown here, the ledger grain's flush loop itself failed
                    // (before the batch's failure could be handled) and the ledger stopped writing.
                    return Task.FromException(new LedgerConflictException(
                        $"Entry {entry.Seq} ({entry.EventId}) conflicts with the stored ledger (head {_entries.Count})."));
                }
            }

            foreach (var entry in entries)
            {
                var kept = CompactLedgerEntry.Of(entry, _entries.Count == 0 ? null : _entries[^1], _pool);
                _entries.Add(kept);
                _seqByEventId[kept.EventId] = entry.Seq;
                foreach (var accountId in entry.Postings.Select(p => p.AccountId).Distinct())
                {
                    if (!_seqsByAccount.TryGetValue(accountId, out var seqs))
                    {
                        _seqsByAccount[accountId] = seqs = [];
                    }

                    seqs.Add(entry.Seq);
                    _accounts[accountId] = AccountFold.Apply(_accounts.GetValueOrDefault(accountId, AccountTotals.Empty), entry, accountId);
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The entry at <paramref name="index"/> (its seq less one) as it was appended; under the lock.</summary>
    private LedgerEntry Expanded(int index) => _entries[index].Expand(index == 0 ? null : _entries[index - 1]);

    public Task AppendCheckpointAsync(LedgerCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (_checkpoints.Count == 0 || _checkpoints[^1].Seq < checkpoint.Seq)
            {
                _checkpoints.Add(checkpoint);
            }
        }

        return Task.CompletedTask;
    }
}
