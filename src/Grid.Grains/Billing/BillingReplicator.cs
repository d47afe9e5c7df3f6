using Grid.Grains;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Billing;

/// <summary>
/// Keeps this silo's <see cref="PriceBook"/> in step with the price-list grain (one small call per second) and
/// keeps the billing shards active: after a silo loss their timers run again on a survivor within seconds
/// instead of waiting for the reminder.
/// </summary>
public sealed partial class BillingReplicator(
    IGrainFactory grains,
    PriceBook book,
    IOptions<BillingOptions> options,
    ILogger<BillingReplicator> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private const int ShardPingEvery = 5;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            for (var tick = 0L; await timer.WaitForNextTickAsync(stoppingToken); tick++)
            {
                try
                {
                    if (await grains.GetGrain<IPriceListGrain>(0).GetIfChangedAsync(book.Version) is { } set)
                    {
                        book.Apply(set);
                    }

                    if (tick % ShardPingEvery == 0)
                    {
                        await Task.WhenAll(Enumerable.Range(0, options.Value.Shards)
                            .Select(shard => grains.GetGrain<IBillingShardGrain>(shard).StartAsync()));
                    }
                }
                catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
                {
                    // The silo may still be starting or failing over: the next tick retries.
                    LogRefreshFailed(logger, exception.GetType().Name);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The silo is stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Billing refresh failed: {Error}")]
    private static partial void LogRefreshFailed(ILogger logger, string error);
}
