using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Ledger;

/// <summary>This silo's checkpoint signing key, from <c>Grid:Ledger:SigningKey</c> or generated (and logged) at start.</summary>
public sealed partial class LedgerSigner
{
    private readonly string _privateKey;

    public LedgerSigner(IOptions<LedgerOptions> options, ILogger<LedgerSigner> logger)
    {
        if (string.IsNullOrWhiteSpace(options.Value.SigningKey))
        {
            _privateKey = LedgerCheckpoints.NewPrivateKey();
            PublicKey = LedgerCheckpoints.PublicKeyOf(_privateKey);
            LogGenerated(logger, PublicKey, _privateKey);
        }
        else
        {
            _privateKey = options.Value.SigningKey.Trim();
            PublicKey = LedgerCheckpoints.PublicKeyOf(_privateKey);
            LogConfigured(logger, PublicKey);
        }
    }

    /// <summary>Hex public key, for <c>grid ledger verify --public-key</c>.</summary>
    public string PublicKey { get; }

    public LedgerCheckpoint Sign(LedgerHead head, DateTimeOffset at) => LedgerCheckpoints.Sign(_privateKey, head.Seq, head.Hash, at);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grid:Ledger:SigningKey is not set: generated an Ed25519 key for ledger checkpoints. Public key {PublicKey}. Set Grid:Ledger:SigningKey={PrivateKey} (a secret) to keep signing with it after a restart")]
    private static partial void LogGenerated(ILogger logger, string publicKey, string privateKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ledger checkpoints are signed by public key {PublicKey}")]
    private static partial void LogConfigured(ILogger logger, string publicKey);
}
