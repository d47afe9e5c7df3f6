using Grid.Grains;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Billing;

[GenerateSerializer, Alias("grid.state.billing-shard")]
public sealed class BillingShardState
{
    /// <summary>Grid time up to which every reservation of the shard has been asked to bill.</summary>
    [Id(0)] public DateTimeOffset? TickedUntil { get; set; }
}

/// <summary>
/// Drives billing for the buckets <c>b % Shards == shard</c>: a reminder (survives a silo loss) keeps a soft timer
/// running that asks the reservations due in <c>(TickedUntil, now]</c> by grid time to bill. The cursor moves
/// only when every one of them answered, so a failure or a crash re-asks them (bills are exactly once anyway).
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

        if (failed == 0)
        {
            state.State.TickedUntil = now;
            await state.WriteOrDeactivateAsync(this);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Billing shard {Shard} tick failed; the next tick retries the same window")]
    private static partial void LogTickFailed(ILogger logger, Exception exception, long shard);
}
