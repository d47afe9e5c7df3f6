using System.Collections.Immutable;
using Grid.Grains;
using Orleans.Concurrency;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Billing;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.billing-bucket")]
public sealed class BillingBucketState
{
    [Id(0)] public HashSet<long> ReservationIds { get; set; } = [];

    /// <summary>Reservations whose last billing call failed: asked again at every tick until one succeeds.</summary>
    [Id(1)] public HashSet<long> Retry { get; set; } = [];
}

/// <summary>
/// A bucket of reservations to bill (key: bucket number). Membership is durable; which reservation is due when
/// follows from its id (its offset in the cycle), so nothing per reservation is stored here but the id, and the
/// ids whose last billing call failed: those are asked again at every tick (durably, so a failover keeps them),
/// while the shard's window moves on for all the others.
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
        var retry = state.State.Retry;
        var due = state.State.ReservationIds.Where(id => retry.Contains(id) || IsDue(id, from, to)).ToList();
        var done = new List<long>();
        var failedIds = new List<long>();
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
                lock (failedIds)
                {
                    failedIds.Add(id);
                }

                LogBillFailed(logger, exception, id);
            }
        });

        // Every id that was in Retry was asked in this pass: what failed now is the whole new retry set.
        var changed = !retry.SetEquals(failedIds);
        if (changed)
        {
            state.State.Retry = [.. failedIds];
        }

        if (done.Count > 0)
        {
            state.State.ReservationIds.ExceptWith(done);
            state.State.Retry.ExceptWith(done);
            changed = true;
        }

        if (changed)
        {
            await Writer.WriteAsync();
        }

        return (due.Count, failedIds.Count);
    }

    /// <summary>True when one of the reservation's billing boundaries (settle delay included) lies in <c>(from, to]</c>.</summary>
    private bool IsDue(long reservationId, DateTimeOffset from, DateTimeOffset to)
    {
        var settle = options.Value.SettleDelay;
        return options.Value.NextBoundary(reservationId, from - settle) + settle <= to;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Billing reservation {ReservationId} failed; asked again at its bucket's next tick")]
    private static partial void LogBillFailed(ILogger logger, Exception exception, long reservationId);
}
