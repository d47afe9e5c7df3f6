using Grid.Billing;
using Grid.Ids;
using Grid.Index;
using Grid.Ledger;
using Grid.Names;
using Grid.Releases;
using Grid.Reservations;
using Grid.Scheduling;
using Grid.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Metadata;
using Orleans.Versions.Compatibility;
using Orleans.Versions.Selector;

namespace Grid.Hosting;

public static class GridSiloBuilderExtensions
{
    /// <summary>Grain addresses a silo's directory cache keeps at most: a 100k-node grid's node grains and as many reservations in use.</summary>
    public const int DirectoryCacheSize = 200_000;

    /// <summary>
    /// Registers the grid's silo-local services: the index replica, the scheduler, id blocks, evacuation and
    /// metrics. Storage and clustering are configured by the host.
    /// </summary>
    public static ISiloBuilder AddGridGrains(this ISiloBuilder silo)
    {
        var services = silo.Services;
        services.TryAddSingleton(new GridClock(TimeProvider.System));
        // The periodic services' clock: real time, even where tests move the grid's clock.
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();

        // Silos of two releases share the cluster during a rolling upgrade: an activation serves callers of its
        // interface version or older, and new activations go to the silos of the newest version (docs/architecture.md).
        silo.Configure<Orleans.Configuration.GrainVersioningOptions>(o =>
        {
            o.DefaultCompatibilityStrategy = nameof(BackwardCompatible);
            o.DefaultVersionSelectorStrategy = nameof(LatestVersion);
        });
        // The directory cache keeps a grain's address after its activation is collected, ≈ 300 B each, and Orleans'
        // default holds up to 1M: a heap dump at 100k reservations showed one per reservation placed, so a million would
        // hold ≈ 300 MB, a third of the 1 GiB a 100k-node grid should settle in (docs/benchmarks.md). The node grains and the reservations in use are what calls need; the rest is looked up
        // again in the directory when called (one lookup, local in a single silo).
        silo.Configure<Orleans.Configuration.GrainDirectoryOptions>(o => o.CacheSize = Math.Min(o.CacheSize, DirectoryCacheSize));
        services.AddSingleton<IGrainPropertiesProvider, GridReleaseProperty>();
        services.AddSingleton<ClusterReleases>();
        services.AddGridSettings<GridHealthOptions, GridHealthOptionsValidator>(GridHealthOptions.Section);
        services.AddGridSettings<GridIndexOptions, GridIndexOptionsValidator>(GridIndexOptions.Section);
        services.AddGridSettings<GatewayOptions, GatewayOptionsValidator>(GatewayOptions.Section);
        services.AddGridSettings<GridSchedulingOptions, GridSchedulingOptionsValidator>(GridSchedulingOptions.Section);
        services.AddSingleton<CapacityView>();
        services.AddSingleton<Preemptor>();
        services.AddSingleton<ReservationScheduler>();
        services.AddReservations();
        services.AddSingleton<MassFailureBrake>();
        services.AddSingleton<EvacuationQueue>();
        services.AddSingleton<MovePathWarmup>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<MovePathWarmup>());
        services.AddSingleton<IdGenerator>();
        services.AddSingleton<GridMetrics>();
        services.AddSingleton<GridEventFeed>();
        services.AddHostedService(sp => sp.GetRequiredService<GridEventFeed>());
        services.AddHostedService<IndexReplicator>();
        services.AddGridSettings<BillingOptions, BillingOptionsValidator>(BillingOptions.Section);
        services.AddSingleton<PriceBook>();
        services.AddSingleton<BillingMetrics>();
        services.AddSingleton<EarningsIndex>();
        services.AddHostedService<BillingReplicator>();
        services.AddGridSettings<LedgerOptions, LedgerOptionsValidator>(LedgerOptions.Section);
        // Memory unless the storage (UseGridPostgres) registers its own store; one store per silo serves both roles.
        services.TryAddSingleton<ILedgerStore, MemoryLedgerStore>();
        services.TryAddSingleton<ILedgerReader>(sp => sp.GetRequiredService<ILedgerStore>());
        services.AddSingleton<LedgerSigner>();
        services.AddSingleton<LedgerMetrics>();
        services.AddSingleton<LedgerAppender>();
        services.AddSingleton<LedgerRecorder>();
        CachedGrainInterfaceTypes.Register(services);
        return silo;
    }
}
