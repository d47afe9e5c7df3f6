using Grid.Hosting;
using Microsoft.Extensions.Options;

namespace Grid.Ledger;

/// <summary>Checks <c>Grid:Ledger</c> at start; every wrong value is one reason naming its key (never the key's secret).</summary>
public sealed class LedgerOptionsValidator : IValidateOptions<LedgerOptions>
{
    public ValidateOptionsResult Validate(string? name, LedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new SettingsCheck(LedgerOptions.Section)
            .AtLeast(nameof(options.CheckpointEvery), options.CheckpointEvery, 1)
            .Positive(nameof(options.CheckpointInterval), options.CheckpointInterval)
            .AtLeast(nameof(options.MaxBatch), options.MaxBatch, 1)
            .RequireSecret(string.IsNullOrWhiteSpace(options.SigningKey) || IsSeed(options.SigningKey.Trim()), nameof(options.SigningKey),
                "must be 64 hex digits (an Ed25519 seed), or unset to generate one.")
            .Result();
    }

    private static bool IsSeed(string key) => key.Length == 64 && key.All(char.IsAsciiHexDigit);
}
