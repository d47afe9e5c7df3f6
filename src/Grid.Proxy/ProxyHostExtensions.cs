using Grid.Hosting;
using Grid.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace Grid.Proxy;

public static class ProxyHostExtensions
{
    /// <summary>
    /// The grid-proxy-compatible reads: the farm directory, the options and the ledger's read model, in memory (a fold
    /// of the ledger in each silo) or, given the grid's PostgreSQL <paramref name="postgresConnectionString"/> (durable
    /// storage), in PostgreSQL tables every silo projects to; their scripts are then applied with the grid's schema.
    /// </summary>
    public static IServiceCollection AddGridProxy(this IServiceCollection services, string? postgresConnectionString)
    {
        services.AddGridSettings<ProxyOptions, ProxyOptionsValidator>(ProxyOptions.Section);
        services.TryAddSingleton(TimeProvider.System);
        if (!string.IsNullOrWhiteSpace(postgresConnectionString))
        {
            foreach (var script in ProxySchema.Scripts)
            {
                services.AddSingleton(script);
            }

            services.AddKeyedSingleton(PostgresProxyReadStore.DataSourceKey,
                (_, _) => NpgsqlDataSource.Create(PostgresConnectionString.Tune(postgresConnectionString)));
            services.AddSingleton<IProxyReadStore, PostgresProxyReadStore>();
            services.AddSingleton<PostgresProxyProjector>();
            services.AddHostedService(sp => sp.GetRequiredService<PostgresProxyProjector>());
        }
        else
        {
            services.AddSingleton<ProxyReadModel>();
            services.AddSingleton<IProxyReadStore, MemoryProxyReadStore>();
            services.AddSingleton<LedgerFollower>();
            services.AddHostedService(sp => sp.GetRequiredService<LedgerFollower>());
        }

        services.AddSingleton<NodeIndex>();
        services.AddHostedService(sp => sp.GetRequiredService<NodeIndex>());
        services.AddSingleton<FarmDirectory>();
        services.AddHostedService(sp => sp.GetRequiredService<FarmDirectory>());
        return services;
    }
}
