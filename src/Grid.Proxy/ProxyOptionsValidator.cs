using Grid.Hosting;

namespace Grid.Proxy;

/// <summary>Checks <c>Grid:Proxy</c> at start; every wrong value is one reason naming its key.</summary>
public sealed class ProxyOptionsValidator() : SettingsValidator<ProxyOptions>(ProxyOptions.Section)
{
    protected override void Check(SettingsCheck check, ProxyOptions options)
    {
        check
            .Positive(nameof(options.FarmRefreshInterval), options.FarmRefreshInterval)
            .Positive(nameof(options.LedgerPollInterval), options.LedgerPollInterval)
            .Positive(nameof(options.NodeIndexInterval), options.NodeIndexInterval);
    }
}
