using System.Collections.Concurrent;
using System.Collections.Immutable;
using Grid.Grains;
using Grid.Hosting;
using Grid.Reservations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Grid.Storage;
using Grid.Testing;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.TestingHost;

namespace Grid.Grains.Tests;

/// <summary>
/// An Orleans test cluster running the grid grains with an injected clock. Grain timers tick in real time
/// (every 50 ms for the health scan); what they compare against is the fake clock, which the test moves.
/// </summary>
public sealed class GridCluster : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<string, FakeTimeProvider> Clocks = new();
    private static readonly ConcurrentDictionary<string, WriteStall> Stalls = new();
    private static readonly ConcurrentDictionary<string, ILedgerStore> LedgerStores = new();
    private static readonly ConcurrentDictionary<string, CallDrop> Drops = new();
    private static long _nextId = 1_000;

    private GridCluster(TestCluster cluster, FakeTimeProvider clock, WriteStall stall, CallDrop drop)
    {
        Cluster = cluster;
        Clock = clock;
        Stall = stall;
        Drop = drop;
    }

    public TestCluster Cluster { get; }

    public FakeTimeProvider Clock { get; }

    /// <summary>Holds back writes of one kind of grain state, like a database that stalls.</summary>
    public WriteStall Stall { get; }

    /// <summary>Drops grain calls to one method, like a message lost while silos join or fail over.</summary>
    public CallDrop Drop { get; }

    public IGrainFactory Grains => Cluster.GrainFactory;

    /// <summary>The primary silo's placer, as the API of that silo calls it.</summary>
    public ReservationPlacer Placer => Service<ReservationPlacer>();

    /// <summary>A service of the primary silo (the API of that silo calls the same).</summary>
    public T Service<T>() where T : notnull => ((InProcessSiloHandle)Cluster.Primary!).SiloHost.Services.GetRequiredService<T>();

    public static Task<GridCluster> StartAsync(params (string Key, string Value)[] settings) => StartCoreAsync(1, null, settings);

    /// <summary>A cluster of <paramref name="silos"/> silos; each keeps its own in-memory storage, so state stays with first activations.</summary>
    public static Task<GridCluster> StartAsync(int silos, params (string Key, string Value)[] settings) => StartCoreAsync(silos, null, settings);

    /// <summary>A cluster whose ledger writes to <paramref name="ledger"/> (default: the memory store).</summary>
    public static Task<GridCluster> StartAsync(ILedgerStore? ledger, params (string Key, string Value)[] settings) => StartCoreAsync(1, ledger, settings);

    private static async Task<GridCluster> StartCoreAsync(int silos, ILedgerStore? ledger, (string Key, string Value)[] settings)
    {
        var clockId = Guid.NewGuid().ToString("N");
        if (ledger is not null)
        {
            LedgerStores[clockId] = ledger;
        }

        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        Clocks[clockId] = clock;
        var stall = Stalls[clockId] = new WriteStall();
        var drop = Drops[clockId] = new CallDrop();
        var builder = new TestClusterBuilder((short)silos);
        builder.Properties["clock"] = clockId;
        builder.Properties["Grid:Health:ScanInterval"] = "00:00:00.050";
        builder.Properties["Grid:Index:RefreshInterval"] = "00:00:00.050";
        foreach (var (key, value) in settings)
        {
            builder.Properties[key] = value;
        }

        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new GridCluster(cluster, clock, stall, drop);
    }

    /// <summary>A key no other test uses.</summary>
    public static long NewId() => Interlocked.Add(ref _nextId, 1_000);

    public async Task<long> CreateFarmAsync(long twinId, int publicIps = 0)
    {
        var farmId = NewId();
        var ips = Enumerable.Range(2, publicIps).Select(i => new PublicIp($"10.9.{farmId % 250}.{i}/24", $"10.9.{farmId % 250}.1")).ToImmutableArray();
        await Grains.GetGrain<IFarmGrain>(farmId).CreateAsync(twinId, new FarmSpec($"farm-{farmId}", FarmCertification.NotCertified, ips, 1.0));
        return farmId;
    }

    public async Task<long> RegisterNodeAsync(long farmId, long twinId, Capacity resources, string country = "BE", bool heartbeat = true)
    {
        var nodeId = NewId();
        await Grains.GetGrain<INodeGrain>(nodeId).RegisterAsync(
            new NodeRegistration(farmId, twinId, resources, new Location(country, "City"), NodeCertification.Diy, "hash"), 1.0);
        if (heartbeat)
        {
            await BeatAsync(nodeId);
        }

        return nodeId;
    }

    public Task<HeartbeatResponse> BeatAsync(long nodeId, params WorkloadReport[] reports) =>
        Grains.GetGrain<INodeGrain>(nodeId).HeartbeatAsync(new Heartbeat(1, [.. reports]));

    /// <summary>Moves the clock forward in steps, heartbeating the given nodes at each step (the others stay silent).</summary>
    public async Task AdvanceAsync(TimeSpan by, IEnumerable<long> beating, TimeSpan? step = null)
    {
        var nodes = beating.ToList();
        var stride = step ?? TimeSpan.FromSeconds(1);
        for (var passed = TimeSpan.Zero; passed < by; passed += stride)
        {
            Clock.Advance(stride);
            await Task.WhenAll(nodes.Select(n => BeatAsync(n)));
        }
    }

    /// <summary>
    /// Waits until every index shard has scanned, knowing every summary, at the grid's current time, twice: what
    /// a scan decides (a down call) is then on its way. For checks that something did not happen.
    /// </summary>
    public async Task ScannedAsync(int shards = 8)
    {
        for (var round = 0; round < 2; round++)
        {
            var now = Clock.GetUtcNow();
            await Task.WhenAll(Enumerable.Range(0, shards).Select(shard => Poll.UntilAsync(
                async () => await Grains.GetGrain<ICapacityIndexGrain>(shard).GetLastFullScanAsync() >= now,
                TimeSpan.FromSeconds(20), $"shard {shard} scanned at {now:O}")));
            Clock.Advance(TimeSpan.FromMilliseconds(1));
        }
    }

    public async Task<ReservationInfo> ReserveAsync(long twinId, Capacity resources, PlacementConstraints? constraints = null)
    {
        var outcome = await Grains.GetGrain<IReservationGrain>(NewId())
            .CreateAsync(new ReservationRequest(twinId, resources, constraints ?? PlacementConstraints.None, PlacementStrategy.Binpack));
        Assert.True(outcome.Reservation is not null, outcome.Unplaceable?.Describe());
        return outcome.Reservation;
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            var clock = Clocks[silo.Configuration["clock"]!];
            var stall = Stalls[silo.Configuration["clock"]!];
            silo.Services.AddKeyedSingleton<IGrainStorage>(GridStorage.Name, (services, _) =>
                new StallingStorage(new LocalMemoryGrainStorage(services.GetRequiredService<Serializer>()), stall));
            silo.UseInMemoryReminderService();
            silo.AddOutgoingGrainCallFilter(Drops[silo.Configuration["clock"]!].FilterAsync);
            silo.AddGridGrains();
            silo.Services.Replace(ServiceDescriptor.Singleton(new GridClock(clock)));
            if (LedgerStores.TryGetValue(silo.Configuration["clock"]!, out var ledger))
            {
                silo.Services.AddSingleton(ledger);
            }
        }
    }
}
