using System.Collections.Immutable;
using Orleans.CodeGeneration;
using Orleans.Concurrency;

namespace Grid.Grains;

/// <summary>
/// The single writer of the grid's ledger (key 0). Appends are durable when the call returns, idempotent by
/// event id, ordered by sequence number and group-committed (many concurrent appends share one flush).
/// </summary>
[Alias("grid.ILedgerGrain")]
[Version(1)]
public interface ILedgerGrain : IGrainWithIntegerKey
{
    /// <summary>Appends one entry, or answers the entry already appended with the same event id.</summary>
    [Alias("Append")]
    Task<LedgerEntry> AppendAsync(LedgerAppend append);

    /// <summary>
    /// Appends many at once (a silo's appender sends what its grains appended meanwhile as one call): answers one
    /// entry per append, in the same order, each as <see cref="AppendAsync"/> would. Every append is validated
    /// before any is queued, so an invalid one refuses the whole call and changes nothing.
    /// </summary>
    [Alias("AppendBatch")]
    Task<ImmutableArray<LedgerEntry>> AppendBatchAsync(ImmutableArray<LedgerAppend> appends);

    /// <summary>The durable head and how many appends wait for a write (an operator's and a test's view).</summary>
    [Alias("GetStatus"), AlwaysInterleave]
    Task<LedgerStatus> GetStatusAsync();
}

/// <summary>The ledger writer's state: the durable head's sequence number and the appends not yet answered.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.ledger-status")]
public sealed record LedgerStatus([property: Id(0)] long HeadSeq, [property: Id(1)] int Pending)
{
    /// <summary>
    /// Group commits the store refused since this activation began (an event id it holds that the grain had
    /// forgotten, or another writer moved the head); each is retried. 0 from a silo of 0.4.0 or older.
    /// </summary>
    [Id(2)] public long Refused { get; init; }
}

/// <summary>
/// A twin's account (key: twin id): balance, spent and earned, folded from the ledger. It never holds money the
/// ledger does not.
/// </summary>
[Alias("grid.IAccountGrain")]
[Version(1)]
public interface IAccountGrain : IGrainWithIntegerKey
{
    [Alias("Get")]
    Task<AccountInfo> GetAsync();
}
