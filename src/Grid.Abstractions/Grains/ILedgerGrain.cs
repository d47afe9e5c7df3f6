using System.Collections.Immutable;

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
}

/// <summary>
/// A twin's account (key: twin id): balance, spent and earned, folded from the ledger. It never holds money the
/// ledger does not.
/// </summary>
[Alias("grid.IAccountGrain")]
public interface IAccountGrain : IGrainWithIntegerKey
{
    [Alias("Get")]
    Task<AccountInfo> GetAsync();
}
