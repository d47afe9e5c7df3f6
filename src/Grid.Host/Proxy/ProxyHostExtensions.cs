namespace Grid.Host.Proxy;

public static class ProxyHostExtensions
{
    /// <summary>The grid-proxy-compatible reads: the ledger read model, the farm directory and their options.</summary>
    public static WebApplicationBuilder AddGridProxy(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ProxyOptions>().BindConfiguration(ProxyOptions.Section);
        builder.Services.AddSingleton<ProxyReadModel>();
        builder.Services.AddSingleton<FarmDirectory>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FarmDirectory>());
        builder.Services.AddSingleton<LedgerFollower>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LedgerFollower>());
        return builder;
    }
}
