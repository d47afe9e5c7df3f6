using Grid.Hosting;
using Microsoft.Extensions.Options;

namespace Grid.Proxy;

/// <summary>Checks <c>Grid:Proxy</c> at start; every wrong value is one reason naming its key.</summary>
public sealed class ProxyOptionsValidator : IValidateOptions<ProxyOptions>
{
    public ValidateOptionsResult Validate(string? name, ProxyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new SettingsCheck(ProxyOptions.Section)
            .Positive(nameof(options.FarmRefreshInterval), options.FarmRefreshInterval)
            .Positive(nameof(options.LedgerPollInterval), options.LedgerPollInterval)
            .Positive(nameof(options.NodeIndexInterval), options.NodeIndexInterval)
            .Result();
    }
}
