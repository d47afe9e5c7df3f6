using System.Collections.Concurrent;
using Grid.Grains;
using Grid.Scheduling;
using Microsoft.Extensions.Options;

namespace Grid.Host.Proxy;

/// <summary>
/// This silo's copy of every farm (name, owner, certification, public IPv4 pool and which reservation holds each
/// address), refreshed from the farm grains every <see cref="ProxyOptions.FarmRefreshInterval"/>. Farms are few
/// next to nodes and reservations (one grain call per farm per refresh), and their grains are the only place that
/// knows which address a reservation holds. The farm ids come from the capacity view and the ledger's
/// <c>farm.registered</c> entries, so a farm without nodes is listed too.
/// </summary>
public sealed partial class FarmDirectory(
    IGrainFactory grains,
    CapacityView view,
    IProxyReadStore readStore,
    IOptions<ProxyOptions> options,
    ILogger<FarmDirectory> logger) : BackgroundService
{
    private const int Parallelism = 16;

    private readonly ConcurrentDictionary<long, FarmInfo> _farms = new();

    public ICollection<FarmInfo> Farms => _farms.Values;

    public bool TryGet(long farmId, out FarmInfo farm) => _farms.TryGetValue(farmId, out farm!);

    public string NameOf(long farmId) => _farms.TryGetValue(farmId, out var farm) ? farm.Name : "";

    /// <summary>Reads every known farm from its grain once.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var ids = new HashSet<long>(await readStore.FarmIdsAsync(cancellationToken));
        foreach (var node in view.Nodes)
        {
            ids.Add(node.FarmId);
        }

        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (id, _) =>
            {
                if (await grains.GetGrain<IFarmGrain>(id).GetAsync() is { } farm)
                {
                    _farms[id] = farm;
                }
            });
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.FarmRefreshInterval);
        do
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The silo may be starting or failing over; the next tick tries again.
                LogRefreshFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Farm directory refresh failed; retrying on the next tick")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
