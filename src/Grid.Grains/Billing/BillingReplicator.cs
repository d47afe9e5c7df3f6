using Grid.Grains;
using Grid.Hosting;
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
    TimeProvider time,
    ILogger<BillingReplicator> logger) : PeriodicService(time)
{
    private const int ShardPingEvery = 5;

    private long _tick;

    protected override TimeSpan Interval => TimeSpan.FromSeconds(1);

    protected override async Task StepAsync(CancellationToken cancellationToken)
    {
        // Counted before the calls, so a failing tick does not delay the next shard ping.
        var tick = _tick++;
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

    protected override void StepFailed(Exception exception) => LogRefreshFailed(logger, exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Billing refresh failed; retrying on the next tick")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
