using Grid.Grains;
using Grid.Scheduling;
using Microsoft.Extensions.Hosting;
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
    ILogger<IndexReplicator> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var shards = options.Value.Shards;
        var epochs = new long[shards];
        var versions = new long[shards];
        using var timer = new PeriodicTimer(options.Value.RefreshInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            for (var shard = 0; shard < shards; shard++)
            {
                try
                {
                    var changes = await grains.GetGrain<ICapacityIndexGrain>(shard).GetChangesAsync(epochs[shard], versions[shard]);
                    foreach (var summary in changes.Nodes)
                    {
                        view.Update(summary);
                    }

                    epochs[shard] = changes.Epoch;
                    versions[shard] = changes.Version;
                }
                catch (Exception) when (stoppingToken.IsCancellationRequested)
                {
                    // The silo is stopping: a call cut short by it is no failure of this service.
                    return;
                }
                catch (Exception exception)
                {
                    // Expected while the silo starts or a silo fails over; the next tick retries.
                    LogRefreshFailed(logger, shard, exception.GetType().Name);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Index shard {Shard} refresh failed: {Error}")]
    private static partial void LogRefreshFailed(ILogger logger, int shard, string error);
}
