using Grid.Ledger;

namespace Grid.Grains.Tests;

/// <summary>
/// The real memory ledger store with a gate in front of its writes, so a test can hold a batch in flight (like a
/// slow disk) and count how many batches the ledger wrote.
/// </summary>
public sealed class GatedLedgerStore : ILedgerStore
{
    private readonly MemoryLedgerStore _store = new();
    private TaskCompletionSource _gate = Open();
    private int _batches;
    private int _held;
    private (int At, Exception Failure, TimeSpan After)? _fail;

    public int Batches => Volatile.Read(ref _batches);

    /// <summary>Batches waiting at the gate.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Holds every write from now on until <see cref="Release"/>.</summary>
    public void Hold() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => _gate.TrySetResult();

    /// <summary>
    /// The write after the next <paramref name="skip"/> ones (past the gate) waits <paramref name="after"/>, then
    /// fails with <paramref name="failure"/> and stores nothing, like a connection lost during a commit.
    /// </summary>
    public void FailWrite(int skip, Exception failure, TimeSpan after) => _fail = (Batches + skip + 1, failure, after);

    public Task<LedgerHead> ReadHeadAsync(CancellationToken cancellationToken = default) => _store.ReadHeadAsync(cancellationToken);

    public Task<IReadOnlyList<LedgerEntry>> ReadAsync(long fromSeq, int limit, CancellationToken cancellationToken = default) =>
        _store.ReadAsync(fromSeq, limit, cancellationToken);

    public Task<IReadOnlyList<LedgerCheckpoint>> ReadCheckpointsAsync(long fromSeq, int limit, CancellationToken cancellationToken = default) =>
        _store.ReadCheckpointsAsync(fromSeq, limit, cancellationToken);

    public Task<IReadOnlyList<AccountTransaction>> ReadAccountAsync(long accountId, int skip, int limit, CancellationToken cancellationToken = default) =>
        _store.ReadAccountAsync(accountId, skip, limit, cancellationToken);

    public Task<AccountTotals> FoldAccountAsync(long accountId, CancellationToken cancellationToken = default) =>
        _store.FoldAccountAsync(accountId, cancellationToken);

    public Task<IReadOnlyList<LedgerEntry>> FindAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken = default) =>
        _store.FindAsync(eventIds, cancellationToken);

    public async Task AppendAsync(IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default)
    {
        var gate = _gate.Task;
        if (!gate.IsCompleted)
        {
            Interlocked.Increment(ref _held);
            await gate;
            Interlocked.Decrement(ref _held);
        }

        if (Interlocked.Increment(ref _batches) == _fail?.At)
        {
            await Task.Delay(_fail.Value.After, cancellationToken);
            throw _fail.Value.Failure;
        }

        await _store.AppendAsync(entries, cancellationToken);
    }

    public Task AppendCheckpointAsync(LedgerCheckpoint checkpoint, CancellationToken cancellationToken = default) =>
        _store.AppendCheckpointAsync(checkpoint, cancellationToken);

    private static TaskCompletionSource Open()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }
}
