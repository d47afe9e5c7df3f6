using System.Collections.Immutable;
using Orleans.Concurrency;

namespace Grid.Grains;

/// <summary>
/// The single writer of the grid's ledger (key 0). Appends are durable when the call returns, idempotent by
/// event id, ordered by sequence number and group-committed (many concurrent appends share one flush).
/// </summary>
[Alias("grid.ILedgerGrain")]
public interface ILedgerGrain : IGrainWithIntegerKey
{
    /// <summary>Appends one entry, or answers the entry already appended with the same event id.</summary>
    [Alias("Append")]
    Task<LedgerEntry> AppendAsync(LedgerAppend append);

    /// <summary>The durable head and how many appends wait for a write (an operator's and a test's view).</summary>
    [Alias("GetStatus"), AlwaysInterleave]
    Task<LedgerStatus> GetStatusAsync();
}

/// <summary>The ledger writer's state: the durable head's sequence number and the appends not yet answered.</summary>
[GenerateSerializer, Immutable, Alias("grid.ledger-status")]
public sealed record LedgerStatus([property: Id(0)] long HeadSeq, [property: Id(1)] int Pending);

/// <summary>
/// A twin's account (key: twin id): balance, spent and earned, folded from the ledger. It never holds money the
/// ledger does not.
/// </summary>
[Alias("grid.IAccountGrain")]
public interface IAccountGrain : IGrainWithIntegerKey
{
    [Alias("Get")]
    Task<AccountInfo> GetAsync();

    /// <summary>
    /// Called by the ledger after entries that post to this account are durable, in sequence order per call. The
    /// account applies them when <see cref="AccountPostings.PrevSeq"/> is the last entry it has folded, else it
    /// folds again from the ledger's store (a gap, e.g. after a failover).
    /// </summary>
    [Alias("Apply")]
    Task ApplyAsync(AccountPostings postings);
}

/// <summary>What one batch of ledger entries posted to one account.</summary>
/// <param name="PrevSeq">The entry that touched this account before the first item, or null when the ledger does not know.</param>
/// <param name="Items">Its postings (an entry may post to one account more than once) in sequence order.</param>
[GenerateSerializer, Immutable, Alias("grid.account-postings")]
public sealed record AccountPostings(
    [property: Id(0)] long? PrevSeq,
    [property: Id(1)] ImmutableArray<AccountPosting> Items);

[GenerateSerializer, Immutable, Alias("grid.account-posting")]
public sealed record AccountPosting(
    [property: Id(0)] long Seq,
    [property: Id(1)] string Kind,
    [property: Id(2)] long Amount);
