using Grid.Grains;

namespace Grid.Ledger;

/// <summary>
/// What the ledger accepts. Money is neither created nor destroyed except by deposits (credits only) and
/// withdrawals (debits only): every other entry's postings sum to zero, and a bill must move money.
/// </summary>
public static class LedgerRules
{
    public const int MaxIdLength = 200;
    public const int MaxDetailsLength = 64 * 1024;
    public const int MaxPostings = 1000;

    /// <summary>Throws a 400 <see cref="GridRequestException"/> naming what is wrong with <paramref name="append"/>.</summary>
    public static void Validate(LedgerAppend append)
    {
        if (Problem(append) is { } problem)
        {
            throw new GridRequestException(400, "Invalid ledger entry", $"Ledger entry '{append.EventId}': {problem}");
        }
    }

    /// <summary>Why <paramref name="append"/> is refused, or null.</summary>
    public static string? Problem(LedgerAppend append)
    {
        foreach (var (name, value) in new[] { ("eventId", append.EventId), ("kind", append.Kind), ("actor", append.Actor), ("subject", append.Subject) })
        {
            if (string.IsNullOrWhiteSpace(value) || value.Length > MaxIdLength || !LedgerCanonical.IsStorable(value))
            {
                return $"{name} must be 1 to {MaxIdLength} characters of valid text.";
            }
        }

        if (append.Details is { } details && (details.Length > MaxDetailsLength || !LedgerCanonical.IsStorable(details)))
        {
            return $"details must be valid text of at most {MaxDetailsLength} characters.";
        }

        if (append.Amount is < 0)
        {
            return "amount must not be negative.";
        }

        var postings = append.Postings.IsDefault ? [] : append.Postings;
        if (postings.Length > MaxPostings)
        {
            return $"at most {MaxPostings} postings.";
        }

        if (postings.Any(p => p.AccountId < 0 || p.Amount == 0))
        {
            return "postings need an account id ≥ 0 and a non-zero amount.";
        }

        long sum;
        try
        {
            sum = postings.Aggregate(0L, (total, p) => checked(total + p.Amount));
        }
        catch (OverflowException)
        {
            return "postings overflow.";
        }

        return append.Kind switch
        {
            LedgerKinds.Deposit when postings.IsEmpty || postings.Any(p => p.Amount < 0) => "a deposit credits one or more accounts.",
            LedgerKinds.Withdrawal when postings.IsEmpty || postings.Any(p => p.Amount > 0) => "a withdrawal debits one or more accounts.",
            LedgerKinds.Deposit or LedgerKinds.Withdrawal => null,
            LedgerKinds.Bill when postings.IsEmpty => "a bill must post its debit and credits.",
            _ when sum != 0 => $"postings must sum to zero (they sum to {sum}).",
            _ => null,
        };
    }
}
