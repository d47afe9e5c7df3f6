namespace Grid.Ledger;

/// <summary>Ledger settings, bound from <c>Grid:Ledger</c>.</summary>
public sealed class LedgerOptions
{
    public const string Section = "Grid:Ledger";

    /// <summary>A signed checkpoint after this many new entries. Default: 1000.</summary>
    public int CheckpointEvery { get; set; } = 1000;

    /// <summary>A signed checkpoint at least this often while new entries arrive. Default: 60 s.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The Ed25519 private key (64 hex digits, its 32-byte seed) that signs checkpoints. Default: none — a key is
    /// generated and logged with its public key at start; set it so checkpoints stay verifiable across restarts.
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>Most entries written in one group commit. Default: 2000.</summary>
    public int MaxBatch { get; set; } = 2000;
}
