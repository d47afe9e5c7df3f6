using System.Collections.Immutable;

namespace Grid;

/// <summary>Money is integers: 1 currency unit = 10^7 minor units, always <see cref="long"/>.</summary>
public static class Money
{
    public const long MinorUnitsPerUnit = 10_000_000;

    /// <summary>The grid's own account in ledger postings (twins have ids from 1).</summary>
    public const long GridAccountId = 0;
}

/// <summary>One account's change within a ledger entry: positive credits, negative debits (minor units).</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.posting")]
public sealed record Posting(
    [property: Id(0)] long AccountId,
    [property: Id(1)] long Amount);

/// <summary>
/// What a grain asks the ledger to append. <see cref="EventId"/> is the idempotency key (for example
/// <c>bill:42:3</c> for reservation 42's third bill): appending an event id that is already in the ledger adds
/// nothing and answers the existing entry. Money moves only through <see cref="Postings"/>.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.ledger-append")]
public sealed record LedgerAppend(
    [property: Id(0)] string EventId,
    [property: Id(1)] string Kind,
    [property: Id(2)] string Actor,
    [property: Id(3)] string Subject,
    [property: Id(4)] long? Amount,
    [property: Id(5)] ImmutableArray<Posting> Postings,
    [property: Id(6)] string? Details = null);

/// <summary>
/// One entry of the hash-chained record of activity. <see cref="Hash"/> is the lowercase hex SHA-256 over
/// <see cref="PrevHash"/> and the entry's canonical bytes.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.ledger-entry")]
public sealed record LedgerEntry(
    [property: Id(0)] long Seq,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string Kind,
    [property: Id(3)] string EventId,
    [property: Id(4)] string Actor,
    [property: Id(5)] string Subject,
    [property: Id(6)] long? Amount,
    [property: Id(7)] ImmutableArray<Posting> Postings,
    [property: Id(8)] string? Details,
    [property: Id(9)] string PrevHash,
    [property: Id(10)] string Hash);

/// <summary>A twin's money as the ledger says it is (a cache of the fold of its postings).</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.account-info")]
public sealed record AccountInfo(
    [property: Id(0)] long TwinId,
    [property: Id(1)] long Balance,
    [property: Id(2)] long Spent,
    [property: Id(3)] long Earned,
    [property: Id(4)] string Currency);
