using Grid.Hosting;

namespace Grid.Ledger;

/// <summary>Checks <c>Grid:Ledger</c> at start; every wrong value is one reason naming its key (never the key's secret).</summary>
public sealed class LedgerOptionsValidator() : SettingsValidator<LedgerOptions>(LedgerOptions.Section)
{
    protected override void Check(SettingsCheck check, LedgerOptions options)
    {
        check
            .AtLeast(nameof(options.CheckpointEvery), options.CheckpointEvery, 1)
            .Positive(nameof(options.CheckpointInterval), options.CheckpointInterval)
            .AtLeast(nameof(options.MaxBatch), options.MaxBatch, 1)
            .RequireSecret(string.IsNullOrWhiteSpace(options.SigningKey) || IsSeed(options.SigningKey.Trim()), nameof(options.SigningKey),
                "must be 64 hex digits (an Ed25519 seed), or unset to generate one.");
    }

    private static bool IsSeed(string key) => key.Length == 64 && key.All(char.IsAsciiHexDigit);
}
