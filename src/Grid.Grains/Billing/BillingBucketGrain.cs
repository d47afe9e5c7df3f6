using System.Collections.Immutable;
using Grid.Grains;
using Orleans.Concurrency;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Billing;

[GenerateSerializer, Alias("grid.state.billing-bucket")]
public sealed class BillingBucketState
{
    [Id(0)] public HashSet<long> ReservationIds { get; set; } = [];
}

/// <summary>
/// A bucket of reservations to bill (key: bucket number). Membership is durable; which reservation is due when
/// follows from its id (its offset in the cycle), so nothing per reservation is stored here but the id.
/// Reentrant so placements (adds) share writes and are not held up by a billing pass.
/// </summary>
[Reentrant]
public sealed partial class BillingBucketGrain(
    [PersistentState("billing", GridStorage.Name)] IPersistentState<BillingBucketState> state,
    IOptions<BillingOptions> options,
    ILogger<BillingBucketGrain> logger) : Grain, IBillingBucketGrain
{
    private const int Parallelism = 32;
    private WriteCoalescer? _writer;

    // Many placements add ids at once: one write carries all that arrived meanwhile.
    private WriteCoalescer Writer => _writer ??= new WriteCoalescer(() => state.WriteOrDeactivateAsync(this));

    public Task AddAsync(long reservationId) => AddManyAsync([reservationId]);

    public async Task AddManyAsync(ImmutableArray<long> reservationIds)
    {
        var added = reservationIds.Where(state.State.ReservationIds.Add).ToList();
        if (added.Count > 0)
        {
            try
            {
                await Writer.WriteAsync();
            }
            catch
            {
                state.State.ReservationIds.ExceptWith(added);
                throw;
            }
        }
    }

    public Task<int> CountAsync() => Task.FromResult(state.State.ReservationIds.Count);

    public async Task<(int Asked, int Failed)> BillDueAsync(DateTimeOffset from, DateTimeOffset to)
    {
        var due = state.State.ReservationIds.Where(id => IsDue(id, from, to)).ToList();
        var done = new List<long>();
        var failed = 0;
        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, TaskScheduler = TaskScheduler.Current }, async (id, _) =>
        {
            try
            {
                if (!await GrainFactory.GetGrain<IReservationGrain>(id).BillDueAsync())
                {
                    lock (done)
                    {
                        done.Add(id);
                    }
                }
            }
            catch (Exception exception)
            {
                Interlocked.Increment(ref failed);
                LogBillFailed(logger, exception, id);
            }
        });

        if (done.Count > 0)
        {
            state.State.ReservationIds.ExceptWith(done);
            await Writer.WriteAsync();
        }

        return (due.Count, failed);
    }

    /// <summary>True when one of the reservation's billing boundaries (settle delay included) lies in <c>(from, to]</c>.</summary>
    private bool IsDue(long reservationId, DateTimeOffset from, DateTimeOffset to)
    {
        var settle = options.Value.SettleDelay;
        return options.Value.NextBoundary(reservationId, from - settle) + settle <= to;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Billing reservation {ReservationId} failed; retried at its shard's next tick")]
    private static partial void LogBillFailed(ILogger logger, Exception exception, long reservationId);
}
