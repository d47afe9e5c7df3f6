using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;

namespace Grid.Storage;

/// <summary>Puts a silo's membership, grain state and reminders on PostgreSQL.</summary>
public static class GridPostgresSiloBuilderExtensions
{
    /// <summary>Name of the grain storage: <c>[PersistentState("x", GridPostgresSiloBuilderExtensions.StorageName)]</c>.</summary>
    public const string StorageName = "grid";

    /// <summary>ADO.NET invariant of Npgsql.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>
    /// Configures ADO.NET clustering, the <see cref="StorageName"/> grain storage (<see cref="PostgresGrainStorage"/>
    /// with <see cref="GridJsonGrainStorageSerializer"/>) and the reminder service on the PostgreSQL
    /// database at <paramref name="connectionString"/>, applies <see cref="PostgresSchema"/> before
    /// membership starts and registers <see cref="PostgresHealthCheck"/> in the container.
    /// The connection string is passed through <see cref="PostgresConnectionString.Tune"/>.
    /// </summary>
    public static ISiloBuilder UseGridPostgres(
        this ISiloBuilder silo,
        string connectionString,
        Action<OptionsBuilder<GridPostgresOptions>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var tuned = PostgresConnectionString.Tune(connectionString);

        var options = silo.Services.AddOptions<GridPostgresOptions>()
            .Validate(o => o.SchemaRetryTimeout > TimeSpan.Zero, "SchemaRetryTimeout must be positive.")
            .Validate(o => o.HealthCheckTimeout > TimeSpan.Zero, "HealthCheckTimeout must be positive.")
            .ValidateOnStart();
        configure?.Invoke(options);

        silo.Services.AddSingleton(new GridPostgresConnection(tuned));
        // This silo's view of its own database link, fed by the grain storage (read by the storage-loss guard).
        silo.Services.AddSingleton(sp => new StorageHealth(TimeProvider.System, cancellationToken => PostgresHealthCheck.PingAsync(
            tuned, sp.GetRequiredService<IOptions<GridPostgresOptions>>().Value.HealthCheckTimeout, cancellationToken)));
        // The ledger's own tables (Sql/05-ledger.sql); replaces the memory store AddGridGrains registers.
        silo.Services.AddSingleton<ILedgerStore>(_ => new PostgresLedgerStore(tuned));
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, PostgresSchemaInitializer>();
        silo.Services.AddSingleton(sp => new PostgresHealthCheck(
            tuned, sp.GetRequiredService<IOptions<GridPostgresOptions>>().Value.HealthCheckTimeout));

        // A grain whose write failed answers its caller, possibly on another silo, with the Npgsql exception:
        // let Orleans serialize those so the caller sees a storage failure (503), not a codec error.
        silo.Services.Configure<ExceptionSerializationOptions>(o => o.SupportedNamespacePrefixes.Add("Npgsql"));

        silo.UseAdoNetClustering(o =>
        {
            o.Invariant = Invariant;
            o.ConnectionString = tuned;
        });
        // Grain state through the Grid's group-committing provider, on the rows the Orleans ADO.NET provider used.
        silo.Services.AddSingleton(services => new PostgresGrainStorage(
            tuned,
            services.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
            new GridJsonGrainStorageSerializer(),
            services.GetRequiredService<ILogger<PostgresGrainStorage>>(),
            services.GetRequiredService<StorageHealth>()));
        silo.Services.AddKeyedSingleton<IGrainStorage>(StorageName, (services, _) => services.GetRequiredService<PostgresGrainStorage>());
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(services => services.GetRequiredService<PostgresGrainStorage>());
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = Invariant;
            o.ConnectionString = tuned;
        });
        return silo;
    }
}
