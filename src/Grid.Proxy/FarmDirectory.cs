using System.Collections.Frozen;
using Grid.Hosting;
using Microsoft.Extensions.Options;

namespace Grid.Proxy;

/// <summary>
/// This silo's copy of the read model's farms (name, owner, certification, addresses and which contract holds each),
/// re-read from <see cref="IProxyReadStore"/> every <see cref="ProxyOptions.FarmRefreshInterval"/>, for the joins of
/// the synchronous node reads: a node's farm name, owner and free addresses, a contract's farm name, the stats'
/// totals. <c>/farms</c> and <c>/public_ips</c> ask the read model itself. Farms are few next to nodes.
/// </summary>
public sealed partial class FarmDirectory(
    IProxyReadStore readStore,
    IOptions<ProxyOptions> options,
    TimeProvider time,
    ILogger<FarmDirectory> logger) : PeriodicService(time)
{
    private volatile FrozenDictionary<long, FarmRow> _farms = FrozenDictionary<long, FarmRow>.Empty;

    public IReadOnlyCollection<FarmRow> Farms => _farms.Values;

    public bool TryGet(long farmId, out FarmRow farm) => _farms.TryGetValue(farmId, out farm!);

    public string NameOf(long farmId) => _farms.TryGetValue(farmId, out var farm) ? farm.Name : "";

    /// <summary>Reads every farm from the read model once.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken) =>
        _farms = (await readStore.AllFarmsAsync(cancellationToken)).ToFrozenDictionary(f => f.FarmId);

    protected override TimeSpan Interval => options.Value.FarmRefreshInterval;

    protected override bool StepsAtStart => true;

    protected override Task StepAsync(CancellationToken cancellationToken) => RefreshAsync(cancellationToken);

    protected override void StepFailed(Exception exception) => LogRefreshFailed(logger, exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Farm directory refresh failed; retrying on the next tick")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
