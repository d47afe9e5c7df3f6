using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Grid.Billing;
using Grid.Client;
using Grid.Grains;
using Grid.Host.Api;
using Grid.Host.Hosting;
using Grid.Ids;
using Grid.Twins;
using Microsoft.Extensions.Options;

namespace Grid.Host.Demo;

/// <summary>
/// A simulated farm so the grid is alive at once: a demo twin owning 3 farms in 3 countries and
/// <c>Grid:Demo:Nodes</c> nodes that heartbeat through <see cref="NodeHeartbeats"/>, the same path as real
/// agents. Simulated nodes report every desired workload as running (a <c>zdb</c> as unsupported); they stand at their
/// farm's city (coordinates for <c>constraints.near</c>) and one in four has a GPU.
/// </summary>
public sealed partial class DemoFarm(
    IGrainFactory grains,
    IdGenerator ids,
    NodeHeartbeats heartbeats,
    IOptions<GridHostOptions> options,
    IOptions<GridHealthOptions> health,
    ILogger<DemoFarm> logger) : BackgroundService
{
    /// <summary>The demo twin's starting balance: 1,000 currency units.</summary>
    public const long DemoBalance = 1_000 * Money.MinorUnitsPerUnit;

    private readonly ConcurrentDictionary<long, SimulatedNode> _nodes = new();

    /// <summary>What the demo twin rents of its own grid (it is tenant and farmer at once: it pays and earns).</summary>
    private static readonly Capacity[] DemoReservations =
    [
        new(2, 4L << 30, 50L << 30, 0, 1),
        new(4, 8L << 30, 100L << 30, 0),
        new(1, 2L << 30, 20L << 30, 0),
    ];

    private static readonly (string Name, string Country, string City, string Subnet, double Latitude, double Longitude)[] Farms =
    [
        ("demo-farm-ghent", "Belgium", "Ghent", "185.69.166", 51.05, 3.72),
        ("demo-farm-cairo", "Egypt", "Cairo", "197.50.12", 30.04, 31.24),
        ("demo-farm-vienna", "Austria", "Vienna", "91.212.34", 48.21, 16.37),
    ];

    /// <summary>The GPU one node in four declares, so the console and <c>constraints.near</c>/<c>gpu</c> have something to show.</summary>
    private static readonly GpuDevice DemoGpu = new("0000:3b:00.0", "NVIDIA Corporation", "GA102GL [A40]", 48L << 30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var (twinId, nodes) = await RetryAsync(() => CreateAsync(options.Value.Demo.EffectiveNodes(options.Value.Storage)), stoppingToken);
        var started = Stopwatch.StartNew();
        var toPlace = nodes.Count == 0 ? 0 : DemoReservations.Length;
        using var timer = new PeriodicTimer(health.Value.HeartbeatInterval);
        do
        {
            await Task.WhenAll(nodes.Select(node => BeatAsync(node, (long)started.Elapsed.TotalSeconds)));
            // Once the nodes are up (their first heartbeats), the demo twin rents some of its grid, so the console
            // has reservations, used capacity, bills and earnings to show.
            if (toPlace > 0 && await PlaceAsync(twinId, DemoReservations[^toPlace]))
            {
                toPlace--;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task BeatAsync((long NodeId, string Key) node, long uptime)
    {
        try
        {
            var simulated = _nodes.GetOrAdd(node.NodeId, static _ => new SimulatedNode());
            var (workloads, version, changeOf) = simulated.Reports.Next(simulated.Running);
            var answer = await heartbeats.BeatAsync(node.NodeId, node.Key, new Heartbeat(uptime, workloads) { ReportsVersion = version, ReportsBase = changeOf });
            simulated.Reports.Answered(answer?.ReportsAcknowledged);
            simulated.Running = answer is null ? [] : [.. answer.Desired.Select(Simulate)];
        }
        catch (Exception exception)
        {
            LogBeatFailed(logger, node.NodeId, exception.GetType().Name);
        }
    }

    /// <summary>
    /// What a simulated node says of a workload: running, except a <c>zdb</c>, which no node runs (the agent says the
    /// same). Simulated nodes report no features, so no container or volume is ever placed on them.
    /// </summary>
    private static WorkloadReport Simulate(WorkloadAssignment workload) => workload.Spec.Type == WorkloadType.Zdb
        ? new WorkloadReport(workload.WorkloadId, workload.Epoch, WorkloadState.Unsupported, 0, "zdb is modelled; no node runs it yet.")
        {
            Reason = WorkloadReasons.Unsupported,
        }
        : new WorkloadReport(workload.WorkloadId, workload.Epoch, WorkloadState.Running);

    private async Task<bool> PlaceAsync(long twinId, Capacity resources)
    {
        try
        {
            var reservationId = await ids.NextAsync(IdKind.Reservation);
            var outcome = await grains.GetGrain<IReservationGrain>(reservationId)
                .CreateAsync(new ReservationRequest(twinId, resources, PlacementConstraints.None, PlacementStrategy.Spread));
            return outcome.Reservation is not null;
        }
        catch (Exception exception)
        {
            LogPlaceFailed(logger, exception.GetType().Name);
            return false;
        }
    }

    private async Task<(long TwinId, List<(long NodeId, string Key)> Nodes)> CreateAsync(int count)
    {
        var twinId = await ids.NextAsync(IdKind.Twin);
        var apiKey = KeyHash.NewKey(KeyHash.TwinPrefix, twinId);
        await grains.GetGrain<ITwinGrain>(twinId).CreateAsync("demo", KeyHash.Hash(apiKey));

        var farmIds = new List<long>();
        foreach (var farm in Farms)
        {
            var farmId = await ids.NextAsync(IdKind.Farm);
            var ips = Enumerable.Range(10, 8).Select(i => new PublicIp($"{farm.Subnet}.{i}/24", $"{farm.Subnet}.1")).ToImmutableArray();
            await grains.GetGrain<ITwinGrain>(twinId).CreateFarmAsync(farmId, new FarmSpec(farm.Name, FarmCertification.Gold, ips, 1.0));
            farmIds.Add(farmId);
        }

        var nodes = new List<(long NodeId, string Key)>();
        for (var i = 0; i < count; i++)
        {
            var farm = Farms[i % Farms.Length];
            var farmId = farmIds[i % Farms.Length];
            var nodeId = await ids.NextAsync(IdKind.Node);
            var nodeKey = KeyHash.NewKey(KeyHash.NodePrefix, nodeId);
            // Varied but deterministic machines: 8-32 cores, 32-128 GiB RAM, 1-2 TiB SSD, some with HDD.
            var resources = new Capacity(8 << (i % 3), 32L << 30 << (i % 3), (1L << 40) * (1 + (i % 2)), i % 4 == 0 ? 4L << 40 : 0);
            var location = new Location(farm.Country, farm.City) { Latitude = farm.Latitude, Longitude = farm.Longitude };
            var registration = new NodeRegistration(farmId, twinId, resources, location,
                i % 5 == 0 ? NodeCertification.Certified : NodeCertification.Diy, KeyHash.Hash(nodeKey))
            {
                Gpus = i % 4 == 1 ? [DemoGpu] : [],
            };
            await grains.GetGrain<IFarmGrain>(farmId).RegisterNodeAsync(nodeId, registration);
            nodes.Add((nodeId, nodeKey));
        }

        // The demo twin can pay (also in prepaid mode), and one farm publishes its own, cheaper list.
        await grains.GetGrain<ILedgerGrain>(0).AppendAsync(BillingEvents.Deposit(twinId, "demo", DemoBalance));
        await grains.GetGrain<IPriceListGrain>(0).SetAsync(farmIds[1], twinId, new PriceList(80_000, 40_000, 30_000));
        LogDemoReady(logger, count, Farms.Length, twinId, apiKey);
        return (twinId, nodes);
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> action, CancellationToken cancellationToken)
    {
        // The silo may still be starting when hosted services run.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action();
            }
            catch (Exception) when (attempt < 30 && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo farm ready: {Nodes} simulated nodes in {Farms} farms. Demo twin {TwinId}, API key: {ApiKey}")]
    private static partial void LogDemoReady(ILogger logger, int nodes, int farms, long twinId, string apiKey);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Demo reservation not placed yet: {Error}")]
    private static partial void LogPlaceFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Demo node {NodeId} heartbeat failed: {Error}")]
    private static partial void LogBeatFailed(ILogger logger, long nodeId, string error);

    /// <summary>
    /// A simulated node's reports: what it runs (every workload its last answer asked for), and which of those its
    /// heartbeats carry (as an agent, only what changed once the grid acknowledged them). One heartbeat at a time.
    /// </summary>
    private sealed class SimulatedNode
    {
        public ReportChanges Reports { get; } = new(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

        public ImmutableArray<WorkloadReport> Running { get; set; } = [];
    }
}
