using Grid.Grains;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Billing;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.billing-shard")]
public sealed class BillingShardState
{
    /// <summary>Grid time up to which every reservation of the shard has been asked to bill (those that failed are retried by their buckets).</summary>
    [Id(0)] public DateTimeOffset? TickedUntil { get; set; }
}

/// <summary>
/// Drives billing for the buckets <c>b % Shards == shard</c>: a reminder (survives a silo loss) keeps a soft timer
/// running that asks the reservations due in <c>(TickedUntil, now]</c> by grid time to bill. The cursor moves
/// once every bucket answered; a reservation that failed stays in its bucket's retry set and is asked at every
/// tick until it bills; a bucket that failed, or a crash, keeps the window (bills are exactly once anyway).
/// </summary>
public sealed partial class BillingShardGrain(
    [PersistentState("billing-shard", GridStorage.Name)] IPersistentState<BillingShardState> state,
    GridClock clock,
    IOptions<BillingOptions> options,
    ILogger<BillingShardGrain> logger) : Grain, IBillingShardGrain, IRemindable
{
    private const string Reminder = "billing";
    private static readonly TimeSpan ReminderPeriod = TimeSpan.FromMinutes(1);
    private bool _started;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var interval = options.Value.TickInterval;
        this.RegisterGrainTimer(TickQuietlyAsync, interval, interval);
        return Task.CompletedTask;
    }

    public async Task StartAsync()
    {
        if (!_started)
        {
            await this.RegisterOrUpdateReminder(Reminder, ReminderPeriod, ReminderPeriod);
            _started = true;
        }
    }

    // The reminder only brings the shard (and so its timer) back after a silo loss.
    public Task ReceiveReminder(string reminderName, TickStatus status) => Task.CompletedTask;

    public async Task<int> TickAsync()
    {
        var now = clock.UtcNow;
        var from = state.State.TickedUntil ?? now - options.Value.Cycle - options.Value.SettleDelay;
        if (now <= from)
        {
            return 0;
        }

        var shards = options.Value.Shards;
        var buckets = Enumerable.Range(0, options.Value.Buckets).Where(b => b % shards == this.GetPrimaryKeyLong());
        var asked = 0;
        var failed = 0;
        await Parallel.ForEachAsync(buckets, new ParallelOptions { MaxDegreeOfParallelism = 4, TaskScheduler = TaskScheduler.Current },
            async (bucket, _) =>
            {
                var (a, f) = await GrainFactory.GetGrain<IBillingBucketGrain>(bucket).BillDueAsync(from, now);
                // Buckets answer in parallel.
                Interlocked.Add(ref asked, a);
                Interlocked.Add(ref failed, f);
            });

        // Every bucket answered: the window moves on. Reservations that failed are kept by their buckets and asked
        // again at each tick; holding the window open for them instead had every reservation due in it asked again
        // at every tick, and once it spanned a cycle, every reservation of the shard (a single reservation that always
        // fails kept the shard asking all of them every 10 s). A bucket that did not answer throws: window kept.
        state.State.TickedUntil = now;
        await state.WriteOrDeactivateAsync(this);
        if (failed > 0)
        {
            LogRetrying(logger, failed, this.GetPrimaryKeyLong());
        }

        return asked;
    }

    private async Task TickQuietlyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await TickAsync();
        }
        catch (Exception exception)
        {
            LogTickFailed(logger, exception, this.GetPrimaryKeyLong());
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} reservations of billing shard {Shard} failed to bill; their buckets ask them again next tick")]
    private static partial void LogRetrying(ILogger logger, int count, long shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Billing shard {Shard} tick failed; the next tick retries the same window")]
    private static partial void LogTickFailed(ILogger logger, Exception exception, long shard);
}
