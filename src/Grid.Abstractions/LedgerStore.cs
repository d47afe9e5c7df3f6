namespace Grid;

/// <summary>The last entry of the ledger: its sequence number and hash (0 and <see cref="LedgerCanonical.GenesisHash"/> when empty).</summary>
public sealed record LedgerHead(long Seq, string Hash)
{
    public static readonly LedgerHead Empty = new(0, LedgerCanonical.GenesisHash);
}

/// <summary>
/// A signed checkpoint: the Ed25519 signature, by <see cref="PublicKey"/>, of the head hash at <see cref="Seq"/>
/// (see <see cref="LedgerCheckpoints.Message"/>). Hex strings are lowercase.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.ledger-checkpoint")]
public sealed record LedgerCheckpoint(
    [property: Id(0)] long Seq,
    [property: Id(1)] string Hash,
    [property: Id(2)] DateTimeOffset At,
    [property: Id(3)] string Signature,
    [property: Id(4)] string PublicKey);

/// <summary>One ledger entry as seen from one account: the entry and what it posted to that account.</summary>
public sealed record AccountTransaction(LedgerEntry Entry, long Amount);

/// <summary>
/// Reads the ledger without a grain call: the store of this silo (memory in the single-silo mode, PostgreSQL
/// otherwise), for the HTTP API, read models and account grains. It only ever returns durable entries.
/// </summary>
public interface ILedgerReader
{
    Task<LedgerHead> ReadHeadAsync(CancellationToken cancellationToken = default);

    /// <summary>Entries with <c>seq ≥ fromSeq</c> in sequence order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<LedgerEntry>> ReadAsync(long fromSeq, int limit, CancellationToken cancellationToken = default);

    /// <summary>Checkpoints with <c>seq ≥ fromSeq</c> in sequence order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<LedgerCheckpoint>> ReadCheckpointsAsync(long fromSeq, int limit, CancellationToken cancellationToken = default);

    /// <summary>The entries that posted to an account, newest first, skipping <paramref name="skip"/>.</summary>
    Task<IReadOnlyList<AccountTransaction>> ReadAccountAsync(long accountId, int skip, int limit, CancellationToken cancellationToken = default);

    /// <summary>The account's totals folded over every durable entry (<see cref="AccountFold"/>).</summary>
    Task<AccountTotals> FoldAccountAsync(long accountId, CancellationToken cancellationToken = default);

    /// <summary>
    /// <paramref name="folded"/> (the account's totals up to its <see cref="AccountTotals.LastSeq"/>) with every
    /// durable entry after it folded in. Durable entries are always a prefix of the chain (a batch commits only
    /// after the one before it), so nothing before <c>LastSeq</c> can appear later. Default: a whole fold.
    /// </summary>
    Task<AccountTotals> FoldAccountAfterAsync(long accountId, AccountTotals folded, CancellationToken cancellationToken = default) =>
        FoldAccountAsync(accountId, cancellationToken);
}

/// <summary>
/// Where the ledger grain writes. Silo-local; the ledger grain is its only writer, but a second activation after
/// a failover may race the first for a moment, so the store refuses a sequence number or event id it already
/// holds (<see cref="LedgerConflictException"/>) instead of forking the chain.
/// </summary>
public interface ILedgerStore : ILedgerReader
{
    /// <summary>The stored entries among <paramref name="eventIds"/>.</summary>
    Task<IReadOnlyList<LedgerEntry>> FindAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends consecutive entries atomically (all or none). The first must follow the stored head.
    /// </summary>
    /// <exception cref="LedgerConflictException">A sequence number or event id is already stored.</exception>
    Task AppendAsync(IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends like <see cref="AppendAsync(IReadOnlyList{LedgerEntry}, CancellationToken)"/>, but commits only
    /// once <paramref name="previous"/> (the write of the entries just before these) has committed; when it
    /// failed, nothing of these is written and this fails too. A store may do its work up to the commit
    /// meanwhile (the PostgreSQL store inserts while the previous batch's commit waits for the disk).
    /// </summary>
    async Task AppendAfterAsync(IReadOnlyList<LedgerEntry> entries, Task previous, CancellationToken cancellationToken = default)
    {
        await previous;
        await AppendAsync(entries, cancellationToken);
    }

    Task AppendCheckpointAsync(LedgerCheckpoint checkpoint, CancellationToken cancellationToken = default);
}

/// <summary>The store already holds a sequence number or event id of the batch: another writer got there first.</summary>
public sealed class LedgerConflictException : Exception
{
    public LedgerConflictException()
    {
    }

    public LedgerConflictException(string message)
        : base(message)
    {
    }

    public LedgerConflictException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
