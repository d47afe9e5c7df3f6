namespace Grid;

/// <summary>An account's money as a fold of ledger postings (minor units).</summary>
/// <param name="Balance">Sum of all its postings.</param>
/// <param name="Spent">Minus the sum of its negative postings in <c>bill</c> entries.</param>
/// <param name="Earned">Sum of its positive postings in <c>bill</c> entries.</param>
/// <param name="LastSeq">The last entry folded that touched the account (0: none).</param>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.account-totals")]
public sealed record AccountTotals(
    [property: Id(0)] long Balance,
    [property: Id(1)] long Spent,
    [property: Id(2)] long Earned,
    [property: Id(3)] long LastSeq)
{
    public static readonly AccountTotals Empty = new(0, 0, 0, 0);

    /// <summary>These totals with one posting of the entry at <paramref name="seq"/> of kind <paramref name="kind"/> added.</summary>
    public AccountTotals Add(long seq, string kind, long amount)
    {
        var bill = kind == LedgerKinds.Bill;
        return new AccountTotals(
            checked(Balance + amount),
            bill && amount < 0 ? checked(Spent - amount) : Spent,
            bill && amount > 0 ? checked(Earned + amount) : Earned,
            Math.Max(LastSeq, seq));
    }
}

/// <summary>
/// The pure fold from ledger entries to accounts, shared by account grains, the stores and <c>grid ledger verify</c>,
/// so every place that shows money computes it the same way.
/// </summary>
public static class AccountFold
{
    /// <summary>Folds one account's postings of <paramref name="entry"/> into <paramref name="totals"/>.</summary>
    public static AccountTotals Apply(AccountTotals totals, LedgerEntry entry, long accountId)
    {
        foreach (var posting in entry.Postings)
        {
            if (posting.AccountId == accountId)
            {
                totals = totals.Add(entry.Seq, entry.Kind, posting.Amount);
            }
        }

        return totals;
    }

    /// <summary>Every account's totals over <paramref name="entries"/> (in sequence order).</summary>
    public static Dictionary<long, AccountTotals> All(IEnumerable<LedgerEntry> entries)
    {
        var accounts = new Dictionary<long, AccountTotals>();
        foreach (var entry in entries)
        {
            Into(accounts, entry);
        }

        return accounts;
    }

    /// <summary>Folds the postings of one entry into a running map of accounts.</summary>
    public static void Into(Dictionary<long, AccountTotals> accounts, LedgerEntry entry)
    {
        foreach (var posting in entry.Postings)
        {
            accounts[posting.AccountId] = accounts.GetValueOrDefault(posting.AccountId, AccountTotals.Empty)
                .Add(entry.Seq, entry.Kind, posting.Amount);
        }
    }
}

/// <summary>The kinds of ledger entries (see the ledger events contract).</summary>
public static class LedgerKinds
{
    public const string TwinCreated = "twin.created";
    public const string FarmRegistered = "farm.registered";
    public const string NodeRegistered = "node.registered";
    public const string NodeUp = "node.up";
    public const string NodeDown = "node.down";
    public const string Bill = "bill";
    public const string Deposit = "deposit";
    public const string Withdrawal = "withdrawal";
    public const string NameClaimed = "name.claimed";
    public const string NameReleased = "name.released";

    /// <summary>A rent contract began: a twin holds a whole node.</summary>
    public const string NodeRented = "node.rented";

    /// <summary>A rent contract ended.</summary>
    public const string NodeReleased = "node.released";
}
