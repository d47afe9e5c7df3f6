using Grid.Grains;
using Grid.Hosting;
using Grid.Scheduling;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Index;

/// <summary>
/// Keeps this silo's <see cref="CapacityView"/> in step with the index shards by pulling their changes on an
/// interval. It also keeps the shards active, so after a silo loss they re-activate (and rebuild, and start the
/// health grace) on a survivor within one interval.
/// </summary>
public sealed partial class IndexReplicator(
    IGrainFactory grains,
    CapacityView view,
    IOptions<GridIndexOptions> options,
    TimeProvider time,
    ILogger<IndexReplicator> logger) : PeriodicService(time)
{
    private readonly long[] _epochs = new long[options.Value.Shards];
    private readonly long[] _versions = new long[options.Value.Shards];

    protected override TimeSpan Interval => options.Value.RefreshInterval;

    protected override async Task StepAsync(CancellationToken cancellationToken)
    {
        for (var shard = 0; shard < _epochs.Length; shard++)
        {
            try
            {
                await RefreshAsync(shard);
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                // One shard moving (its silo starting or failing over) must not hold the others back this tick.
                LogShardRefreshFailed(logger, exception, shard);
            }
        }
    }

    protected override void StepFailed(Exception exception) => LogRefreshFailed(logger, exception);

    private async Task RefreshAsync(int shard)
    {
        var changes = await grains.GetGrain<ICapacityIndexGrain>(shard).GetChangesAsync(_epochs[shard], _versions[shard]);
        foreach (var summary in changes.Nodes)
        {
            view.Update(summary);
        }

        _epochs[shard] = changes.Epoch;
        _versions[shard] = changes.Version;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Index shard {Shard} refresh failed; retrying on the next tick")]
    private static partial void LogShardRefreshFailed(ILogger logger, Exception exception, int shard);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Index refresh failed; retrying on the next tick")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
