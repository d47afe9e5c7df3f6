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
    ILogger<FarmDirectory> logger) : PeriodicService
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

    protected override TimeSpan Interval => options.Value.FarmRefreshInterval;

    protected override Task StepAsync(CancellationToken cancellationToken) => RefreshAsync(cancellationToken);

    protected override void StepFailed(Exception exception) => LogRefreshFailed(logger, exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Farm directory refresh failed; retrying on the next tick")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
