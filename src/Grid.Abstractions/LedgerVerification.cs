namespace Grid;

/// <summary>What <see cref="LedgerVerification"/> found: the first entry or checkpoint that does not match, if any.</summary>
/// <param name="Entries">Entries checked.</param>
/// <param name="Head">The last entry's hash (genesis when empty).</param>
/// <param name="Checkpoints">Checkpoints whose signature and hash were checked.</param>
/// <param name="BadSeq">The sequence number of the first entry (or checkpoint) that does not match, or null.</param>
/// <param name="Problem">What is wrong with it, or null.</param>
/// <param name="Accounts">Every account's totals folded from the entries.</param>
public sealed record LedgerReport(
    long Entries,
    string Head,
    int Checkpoints,
    long? BadSeq,
    string? Problem,
    IReadOnlyDictionary<long, AccountTotals> Accounts)
{
    public bool Ok => Problem is null;
}

/// <summary>
/// Re-computes a ledger from its entries alone: sequence numbers 1, 2, 3… without gaps, each prevHash the previous
/// hash, each hash the SHA-256 of its canonical bytes (<see cref="LedgerCanonical"/>), every checkpoint's hash the
/// entry's and its Ed25519 signature valid, and the accounts as the fold of the postings. Used by
/// <c>grid ledger verify</c> and the tests; it trusts nothing the server computed.
/// </summary>
public sealed class LedgerVerification
{
    private readonly Dictionary<long, AccountTotals> _accounts = [];
    private readonly SortedDictionary<long, LedgerCheckpoint> _checkpoints = [];
    private readonly string? _publicKey;
    private long _seq;
    private string _prev = LedgerCanonical.GenesisHash;
    private int _checked;

    /// <summary>
    /// Starts a verification that checks <paramref name="checkpoints"/> as their entries go by, against
    /// <paramref name="publicKey"/> (hex; when null each checkpoint's own key, which proves only that it was not
    /// altered after signing).
    /// </summary>
    public LedgerVerification(IEnumerable<LedgerCheckpoint> checkpoints, string? publicKey)
    {
        _publicKey = publicKey?.Trim().ToLowerInvariant();
        foreach (var checkpoint in checkpoints)
        {
            _checkpoints[checkpoint.Seq] = checkpoint;
        }
    }

    public long? BadSeq { get; private set; }

    public string? Problem { get; private set; }

    /// <summary>Checks the next entry (entries must come in the order served). Returns false once something did not match.</summary>
    public bool Add(LedgerEntry entry)
    {
        if (Problem is not null)
        {
            return false;
        }

        var expected = _seq + 1;
        if (entry.Seq != expected)
        {
            return Fail(expected, entry.Seq > expected ? $"entry {expected} is missing (the next served is {entry.Seq})" : $"entry {entry.Seq} is served out of order");
        }

        if (entry.PrevHash != _prev)
        {
            return Fail(entry.Seq, $"entry {entry.Seq}: prevHash {entry.PrevHash} is not the hash of entry {_seq} ({_prev})");
        }

        string hash;
        try
        {
            hash = LedgerCanonical.Hash(entry);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            return Fail(entry.Seq, $"entry {entry.Seq} cannot be encoded: {e.Message}");
        }

        if (hash != entry.Hash)
        {
            return Fail(entry.Seq, $"entry {entry.Seq}: its contents hash to {hash}, not to the stored {entry.Hash}");
        }

        if (_checkpoints.TryGetValue(entry.Seq, out var checkpoint) && !Check(checkpoint, entry.Hash))
        {
            return false;
        }

        _seq = entry.Seq;
        _prev = entry.Hash;
        AccountFold.Into(_accounts, entry);
        return true;
    }

    /// <summary>The result; a checkpoint beyond the last entry means entries were removed from the end.</summary>
    public LedgerReport Report()
    {
        if (Problem is null && _checkpoints.Keys.LastOrDefault() is var last && last > _seq)
        {
            Fail(_seq + 1, $"checkpoint {last} signs entry {last}, but the ledger ends at {_seq}: entries from {_seq + 1} are missing");
        }

        return new LedgerReport(_seq, _prev, _checked, BadSeq, Problem, _accounts);
    }

    private bool Check(LedgerCheckpoint checkpoint, string hash)
    {
        if (_publicKey is not null && checkpoint.PublicKey != _publicKey)
        {
            return Fail(checkpoint.Seq, $"checkpoint {checkpoint.Seq} is signed by {checkpoint.PublicKey}, not by {_publicKey}");
        }

        if (!LedgerCheckpoints.Verify(checkpoint, _publicKey ?? checkpoint.PublicKey))
        {
            return Fail(checkpoint.Seq, $"checkpoint {checkpoint.Seq}: the signature does not verify");
        }

        if (checkpoint.Hash != hash)
        {
            return Fail(checkpoint.Seq, $"checkpoint {checkpoint.Seq} signs hash {checkpoint.Hash}, but entry {checkpoint.Seq} hashes to {hash}");
        }

        _checked++;
        return true;
    }

    private bool Fail(long seq, string problem)
    {
        BadSeq = seq;
        Problem = problem;
        return false;
    }
}
