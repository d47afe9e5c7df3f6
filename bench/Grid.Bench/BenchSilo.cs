using Grid.Billing;
using Grid.Grains;
using Grid.Hosting;
using Grid.Scheduling;
using Grid.Storage;
using Grid.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Grid.Bench;

/// <summary>
/// One silo in this process (localhost clustering on free ports) with a co-hosted client, configured like the
/// host: grid grains, in-memory or PostgreSQL storage. Helpers seed farms, nodes and reservations through the
/// grain API.
/// </summary>
public sealed class BenchSilo : IAsyncDisposable
{
    private static long _nextId = 1;
    private readonly IHost _host;

    private BenchSilo(IHost host)
    {
        _host = host;
        Grains = host.Services.GetRequiredService<IGrainFactory>();
    }

    public IGrainFactory Grains { get; }

    public IServiceProvider Services => _host.Services;

    /// <summary>Nodes this silo's capacity view knows (the scheduler only places on those).</summary>
    public int ViewCount => _host.Services.GetRequiredService<CapacityView>().Count;

    /// <param name="settings">Configuration of the silo.</param>
    /// <param name="postgres">PostgreSQL connection string, or null for in-memory storage.</param>
    /// <param name="orleansProvider">With PostgreSQL: grain state through Orleans' ADO.NET provider (one transaction
    /// per write, as before the Grid's group-committing provider), for a before/after in one run.</param>
    /// <param name="configure">More silo configuration, applied before the grid's (e.g. a <see cref="GridClock"/> the scenario moves).</param>
    public static async Task<BenchSilo> StartAsync(
        IDictionary<string, string?> settings, string? postgres = null, bool orleansProvider = false, Action<ISiloBuilder>? configure = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(settings);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(FreePort.Get(), FreePort.Get());
            configure?.Invoke(silo);
            silo.AddGridGrains();
            if (postgres is null)
            {
                silo.UseGridMemory();
            }
            else
            {
                silo.UseGridPostgres(postgres);
                if (orleansProvider)
                {
                    silo.AddAdoNetGrainStorage(GridPostgresSiloBuilderExtensions.StorageName, o =>
                    {
                        o.Invariant = GridPostgresSiloBuilderExtensions.Invariant;
                        o.ConnectionString = PostgresConnectionString.Tune(postgres);
                        o.GrainStorageSerializer = new GridJsonGrainStorageSerializer();
                    });
                }
            }
        });
        var host = builder.Build();
        await host.StartAsync();
        return new BenchSilo(host);
    }

    /// <summary>Health settings that never declare a node down during a placement or memory run.</summary>
    public static Dictionary<string, string?> QuietHealth() => new()
    {
        ["Grid:Health:HeartbeatTimeout"] = "01:00:00",
        ["Grid:Health:OrphanCheckInterval"] = "01:00:00",
    };

    public static long NextId() => Interlocked.Increment(ref _nextId);

    /// <summary>Ticks every billing shard of the silo behind <paramref name="services"/> at once; the reservations asked.</summary>
    public static async Task<int> TickBillingAsync(IServiceProvider services)
    {
        var shards = services.GetRequiredService<IOptions<BillingOptions>>().Value.Shards;
        var grains = services.GetRequiredService<IGrainFactory>();
        return (await Task.WhenAll(Enumerable.Range(0, shards).Select(s => grains.GetGrain<IBillingShardGrain>(s).TickAsync()))).Sum();
    }

    public async Task<(long TwinId, long FarmId)> CreateFarmAsync()
    {
        var twinId = NextId();
        await Grains.GetGrain<ITwinGrain>(twinId).CreateAsync("bench", "hash");
        var farmId = NextId();
        await Grains.GetGrain<IFarmGrain>(farmId).CreateAsync(twinId, new FarmSpec("bench", FarmCertification.Gold, [], 1.0));
        return (twinId, farmId);
    }

    /// <summary>Registers nodes (and heartbeats them once, so they are up) with bounded concurrency.</summary>
    public async Task<List<long>> RegisterNodesAsync(long twinId, long farmId, int count, Capacity resources, Progress? progress = null, bool heartbeat = true)
    {
        var ids = Enumerable.Range(0, count).Select(_ => NextId()).ToList();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (id, _) =>
        {
            var node = Grains.GetGrain<INodeGrain>(id);
            await node.RegisterAsync(new NodeRegistration(farmId, twinId, resources, new Location("BE", "Ghent"), NodeCertification.Diy, "hash"), 1.0);
            if (heartbeat)
            {
                await node.HeartbeatAsync(new Heartbeat(1, []));
            }

            progress?.Add();
        });
        progress?.Done();
        return ids;
    }

    /// <summary>Every node's ledger within its capacity; returns the total number of allocations.</summary>
    public async Task<int> CheckNotOverbookedAsync(IEnumerable<long> nodeIds)
    {
        var allocations = 0;
        foreach (var chunk in nodeIds.Chunk(512))
        {
            var nodes = await Task.WhenAll(chunk.Select(id => Grains.GetGrain<INodeGrain>(id).GetAsync()));
            foreach (var node in nodes)
            {
                if (node is null || !node.Total.Covers(node.Used) || node.Free.IsNegative)
                {
                    throw new BenchFailedException($"node {node?.NodeId} is overbooked: used {node?.Used} of {node?.Total}");
                }

                allocations += node.Allocations.Length;
            }
        }

        return allocations;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
