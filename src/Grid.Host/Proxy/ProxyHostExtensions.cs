using Grid.Host.Hosting;
using Grid.Storage;
using Npgsql;

namespace Grid.Host.Proxy;

public static class ProxyHostExtensions
{
    /// <summary>
    /// The grid-proxy-compatible reads: the farm directory, the options and the ledger's read model, in memory (a fold
    /// of the ledger in each silo) or, with <c>Grid:Storage=postgres</c>, in PostgreSQL tables every silo projects to.
    /// </summary>
    public static WebApplicationBuilder AddGridProxy(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ProxyOptions>().BindConfiguration(ProxyOptions.Section);
        var storage = builder.Configuration.GetSection(GridHostOptions.Section).Get<GridHostOptions>()?.Storage ?? GridStorageKind.Memory;
        var connectionString = builder.Configuration.GetConnectionString(GridHostExtensions.ConnectionStringName);
        if (storage == GridStorageKind.Postgres && !string.IsNullOrWhiteSpace(connectionString))
        {
            builder.Services.AddKeyedSingleton(PostgresProxyReadStore.DataSourceKey,
                (_, _) => NpgsqlDataSource.Create(PostgresConnectionString.Tune(connectionString)));
            builder.Services.AddSingleton<IProxyReadStore, PostgresProxyReadStore>();
            builder.Services.AddSingleton<PostgresProxyProjector>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<PostgresProxyProjector>());
        }
        else
        {
            builder.Services.AddSingleton<ProxyReadModel>();
            builder.Services.AddSingleton<IProxyReadStore, MemoryProxyReadStore>();
            builder.Services.AddSingleton<LedgerFollower>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<LedgerFollower>());
        }

        builder.Services.AddSingleton<NodeIndex>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<NodeIndex>());
        builder.Services.AddSingleton<FarmDirectory>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FarmDirectory>());
        return builder;
    }
}
