using System.Collections.Immutable;
using System.Diagnostics;
using Grid.Billing;
using Grid.Grains;
using Grid.Ledger;
using Grid.Scheduling;
using Grid.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace Grid.Reservations;

/// <summary>
/// Places new reservations in batches, without activating their grains. Requests that arrive together (from the
/// API, the idempotency grains, the reservation grains' own create) are matched to nodes as one batch: each
/// chosen node is asked once for all of its share, the tenant-list and billing buckets get one add per bucket,
/// and the records go to grain storage side by side (the PostgreSQL provider commits them as one transaction).
/// The order of each placement is that of a reservation grain's: allocation, listing, then the record, answered
/// only once the record is durable. The record is written insert-only, so it can never overwrite what a
/// reservation grain stored for the id (a tombstone written by a grain that was asked about the id first, see
/// <see cref="ReservationGrain"/>): such a placement fails unacknowledged and its allocation is released by the
/// node's orphan check. At low load a batch is one request: nothing waits for a batch to fill.
/// </summary>
public sealed partial class ReservationPlacer : IReservationPlacement
{
    /// <summary>Requests per batch at most.</summary>
    public const int MaxBatch = 128;

    /// <summary>
    /// Batches in flight at once: one. Requests that arrive while a batch waits for its node, list and record
    /// writes form the next batch, which is then larger and shares more of each write. Measured interleaved (10k
    /// nodes, 64 clients): one lane against two, in memory 49–59 against 69–76 µs of CPU per placement (33–39k/s
    /// against 26–28k/s); on PostgreSQL 7.2–9.1k/s against 6.1–6.4k/s. (Two had beaten four and eight.)
    /// </summary>
    private const int Lanes = 1;

    private readonly GroupCommitQueue<Request> _queue;
    private readonly IGrainFactory _grains;
    private readonly IGrainStorage _storage;
    private readonly LedgerAppender _ledger;
    private readonly ReservationScheduler _scheduler;
    private readonly GridClock _clock;
    private readonly IOptions<BillingOptions> _billing;
    private readonly ILogger<ReservationPlacer> _logger;

    public ReservationPlacer(IGrainFactory grains, [FromKeyedServices(GridStorage.Name)] IGrainStorage storage, LedgerAppender ledger,
        ReservationScheduler scheduler, GridClock clock, IOptions<BillingOptions> billing, ILogger<ReservationPlacer> logger)
    {
        _grains = grains;
        _storage = storage;
        _ledger = ledger;
        _scheduler = scheduler;
        _clock = clock;
        _billing = billing;
        _logger = logger;
        _queue = new GroupCommitQueue<Request>(Lanes, MaxBatch, PlaceBatchAsync);
    }

    /// <summary>A move is placed alone, at once: it has a grain (and its epoch) waiting, and no record to insert.</summary>
    public Task<(Placement? Placement, PlacementReport? Report)> PlaceMoveAsync(
        long reservationId, long epoch, ReservationRequest request, ImmutableArray<WorkloadAssignment> workloads, IReadOnlySet<long> excluded) =>
        _scheduler.PlaceAsync(reservationId, epoch, request, workloads, excluded);

    /// <summary>Places reservation <paramref name="reservationId"/> (a fresh id) and answers once it is durable.</summary>
    public Task<ReservationOutcome> PlaceAsync(long reservationId, ReservationRequest request)
    {
        // Each placement is its own span in its caller's trace (a create is one trace), although its node call and
        // writes are shared with the rest of its batch. Started here, in the caller's context, not left current.
        var caller = Activity.Current;
        var span = GridTelemetry.Source.StartActivity("grid.place");
        if (span is not null)
        {
            // Only a started span became current. Setting the caller back regardless made it spell out its id (a
            // string per placement over HTTP, the request's activity) to check it may be made current.
            Activity.Current = caller;
        }
        span?.SetTag("grid.reservation.id", reservationId);
        span?.SetTag("grid.reservation.epoch", 1);
        // The answer's continuation runs where the batch answers it, not queued to the thread pool: over HTTP that is
        // the rest of the request (its answer written), a few µs of work, and a hop per placement was a chance for a
        // core to fall asleep between hand-offs (HTTP placement 0.441 against 0.495 × of the minimal endpoint, every
        // one of four alternated pairs). A grain that awaits a placement still resumes on its own scheduler; any other
        // caller runs on the batch's thread up to its next await, so it must await, never block on, another placement
        // (one it starts there is only queued for the next batch).
        var pending = new Request(reservationId, request, new TaskCompletionSource<ReservationOutcome>(), span);
        _queue.Add(pending);
        return pending.Answered.Task;
    }

    private async Task PlaceBatchAsync(List<Request> batch)
    {
        var placed = await _scheduler.PlaceManyAsync([.. batch.Select(r => new BatchItem(r.ReservationId, r.Body, r.Span))]);
        var ready = new List<(Request Request, Placement Placement)>(batch.Count);
        var funds = new List<Task>();
        for (var i = 0; i < batch.Count; i++)
        {
            var (request, outcome) = (batch[i], placed[i]);
            if (outcome.Failure is { } failure)
            {
                request.Fail(failure);
            }
            else if (outcome.Placement is not { } placement)
            {
                request.Span?.SetStatus(ActivityStatusCode.Error, "unplaceable");
                request.Answer(new ReservationOutcome(null, outcome.Report));
            }
            else if (_billing.Value.Mode == BillingMode.Prepaid)
            {
                funds.Add(EnsureFundsAsync(request, placement, ready));
            }
            else
            {
                ready.Add((request, placement));
            }
        }

        await Task.WhenAll(funds);
        if (ready.Count == 0)
        {
            return;
        }

        // Listed first (tenant list and billing bucket, one add per bucket, side by side): if a listing fails its
        // placements are not acknowledged; a listed id whose record is then not written is skipped by both.
        var listed = await ListAsync(ready);
        var now = _clock.UtcNow;
        var answered = new ReservationRecord?[ready.Count];
        await Task.WhenAll(ready.Select(async (item, index) =>
        {
            if (listed[item.Request.ReservationId] is { } failure)
            {
                item.Request.Fail(failure);
                return;
            }

            var record = ReservationRecord.Placed(item.Request.ReservationId, item.Request.Body, item.Placement, now);
            Activity.Current = item.Request.Span;
            using var write = GridTelemetry.Source.StartActivity("grid.reservation.write");
            write?.SetTag("grid.reservation.id", item.Request.ReservationId);
            try
            {
                // Never over a record (or tombstone) a reservation grain wrote.
                await ReservationStore.InsertAsync(_storage, _grains.IdOf<IReservationGrain>(item.Request.ReservationId), record);
            }
            catch (Exception exception)
            {
                // Not acknowledged. The allocation stays until the node's orphan check asks the reservation, which
                // reads storage: only storage can tell whether a failed write landed.
                write?.SetStatus(ActivityStatusCode.Error, exception.Message);
                item.Request.Fail(exception);
                return;
            }

            write?.Dispose();
            item.Request.Answer(new ReservationOutcome(record.ToInfo(item.Request.ReservationId), null));
            answered[index] = record;
        }));

        AppendLater(answered);
    }

    /// <summary>Prepaid: the tenant's balance must cover one cycle at the price of this placement, else 402.</summary>
    private async Task EnsureFundsAsync(Request request, Placement placement, List<(Request, Placement)> ready)
    {
        try
        {
            var needed = Pricing.PriceFor(placement.PricePerHour + placement.GpuPricePerHour, _billing.Value.Cycle);
            var balance = (await _grains.GetGrain<IAccountGrain>(request.Body.TwinId).GetAsync()).Balance;
            if (balance < needed)
            {
                await _grains.GetGrain<INodeGrain>(placement.NodeId).ReleaseAsync(request.ReservationId, 1);
                throw new GridRequestException(402, "Payment required",
                    $"Prepaid billing needs a balance covering one cycle ({_billing.Value.Cycle}) at {placement.PricePerHour + placement.GpuPricePerHour} per hour: "
                    + $"{needed} minor units; the balance is {balance}, {needed - balance} missing.");
            }

            lock (ready)
            {
                ready.Add((request, placement));
            }
        }
        catch (Exception exception)
        {
            request.Fail(exception);
        }
    }

    /// <summary>Adds the placements to their tenants' lists and billing buckets; per reservation, the failure if any.</summary>
    private async Task<Dictionary<long, Exception?>> ListAsync(List<(Request Request, Placement Placement)> ready)
    {
        var failures = ready.ToDictionary(r => r.Request.ReservationId, _ => (Exception?)null);
        var lists = ready.GroupBy(r => (r.Request.Body.TwinId, Bucket: TwinReservations.BucketOf(r.Request.ReservationId)))
            .Select(g => (Ids: g.Select(r => r.Request.ReservationId).ToImmutableArray(),
                Add: (Func<ImmutableArray<long>, Task>)_grains.Bucket(g.Key.TwinId, g.Key.Bucket).AddManyAsync));
        var buckets = ready.GroupBy(r => _billing.Value.BucketOf(r.Request.ReservationId))
            .Select(g => (Ids: g.Select(r => r.Request.ReservationId).ToImmutableArray(),
                Add: (Func<ImmutableArray<long>, Task>)_grains.Get<IBillingBucketGrain>(g.Key).AddManyAsync));
        await Task.WhenAll(lists.Concat(buckets).Select(async group =>
        {
            try
            {
                await group.Add(group.Ids);
            }
            catch (Exception exception)
            {
                lock (failures)
                {
                    foreach (var id in group.Ids)
                    {
                        failures[id] ??= exception;
                    }
                }
            }
        }));
        return failures;
    }

    /// <summary>
    /// Sends the "placed" events of the answered records to the ledger, the batch as one item. Each event is already
    /// durable in its record (its meter's pending events): if this fails or the silo dies first, the reservation's
    /// next flush appends it (its billing tick at the latest, which flushes before it bills; the ledger dedupes by
    /// event id).
    /// </summary>
    private void AppendLater(ReservationRecord?[] answered)
    {
        var appends = new List<LedgerAppend>(answered.Length);
        foreach (var record in answered)
        {
            if (record is not null)
            {
                appends.AddRange(record.Meter.Pending);
            }
        }

        if (appends.Count > 0)
        {
            _ledger.AppendManyAsync(appends).ContinueWith(
                (task, state) => LogLedgerDeferred(_logger, task.Exception!, (int)state!),
                appends.Count, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    private sealed record Request(long ReservationId, ReservationRequest Body, TaskCompletionSource<ReservationOutcome> Answered, Activity? Span)
        : IGroupItem
    {
        public void Answer(ReservationOutcome outcome)
        {
            Span?.Dispose();
            Answered.TrySetResult(outcome);
        }

        public void Fail(Exception exception)
        {
            Span?.SetStatus(ActivityStatusCode.Error, exception.Message);
            Span?.Dispose();
            Answered.TrySetException(exception);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} placed events deferred to their reservations' next flush")]
    private static partial void LogLedgerDeferred(ILogger logger, Exception exception, int count);
}
