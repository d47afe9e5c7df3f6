using System.Collections.Immutable;
using System.Diagnostics;
using Grid.Grains;
using Grid.Telemetry;
using Microsoft.Extensions.Logging;

namespace Grid.Scheduling;

/// <summary>The reservations to move off one node, and how.</summary>
public sealed record EvacuationBatch(
    long NodeId,
    long FarmId,
    string Country,
    ImmutableArray<long> ReservationIds,
    bool MakeBeforeBreak,
    int MaxParallel,
    bool Resumed = false,
    DateTimeOffset? LastHeartbeat = null);

/// <summary>
/// Drives moves off a lost or draining node outside the node grain's turn, so the reservations can call back
/// into the node (release) without a deadlock, and so the brake can pace them.
/// </summary>
public sealed partial class EvacuationQueue(IGrainFactory grains, MassFailureBrake brake, GridMetrics metrics, ILogger<EvacuationQueue> logger)
{
    private const int DefaultParallelism = 64;
    private static readonly TimeSpan MigrationWait = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan SettlePoll = TimeSpan.FromMilliseconds(100);

    /// <summary>Starts the moves; the task ends when every move of the batch ended (moved, refused or failed).</summary>
    public Task Enqueue(EvacuationBatch batch)
    {
        metrics.EvacuationsQueued(batch.ReservationIds.Length);
        var cause = Activity.Current?.Context;
        return Task.Run(() => RunAsync(batch, cause));
    }

    private async Task RunAsync(EvacuationBatch batch, ActivityContext? cause)
    {
        var engagedAtLoss = !batch.MakeBeforeBreak && !batch.Resumed ? await RecordDownAsync(batch) : [];

        LogEvacuating(logger, batch.NodeId, batch.ReservationIds.Length, batch.MakeBeforeBreak);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = batch.MaxParallel > 0 ? batch.MaxParallel : DefaultParallelism };
        await Parallel.ForEachAsync(batch.ReservationIds, parallel, async (reservationId, cancellationToken) =>
        {
            // Each move is a trace of its own (linked to what caused it), not one more child of the node's loss.
            Activity.Current = null;
            using var activity = GridTelemetry.Source.StartActivity(
                "grid.move", ActivityKind.Internal, default(ActivityContext), links: cause is { } c ? [new ActivityLink(c)] : null);
            activity?.SetTag("grid.reservation.id", reservationId);
            activity?.SetTag("grid.move.from_node.id", batch.NodeId);
            activity?.SetTag("grid.move.cause", batch.MakeBeforeBreak ? "drain" : "node-down");
            try
            {
                if (!batch.MakeBeforeBreak)
                {
                    await brake.WaitAsync(batch.FarmId, batch.Country, engagedAtLoss, cancellationToken);
                }

                var reservation = grains.GetGrain<IReservationGrain>(reservationId);
                if (await reservation.EvacuateAsync(batch.NodeId, batch.MakeBeforeBreak, batch.LastHeartbeat) && batch.MakeBeforeBreak)
                {
                    // A drain slot stays taken until the new copy runs and the old one is released.
                    await WaitUntilSettledAsync(reservation, cancellationToken);
                }
            }
            catch (Exception exception)
            {
                // The reservation's own retry (unschedulable backoff) or the node's next down/drain covers it.
                LogMoveFailed(logger, exception, reservationId, batch.NodeId);
            }
            finally
            {
                metrics.EvacuationDone();
            }
        });
    }

    private async Task<ImmutableArray<string>> RecordDownAsync(EvacuationBatch batch)
    {
        try
        {
            return await brake.RecordDownAsync(batch.FarmId, batch.Country);
        }
        catch (Exception exception)
        {
            // The brake's counts are out of reach: move without it rather than not at all.
            LogBrakeUnavailable(logger, exception, batch.NodeId);
            return [];
        }
    }

    private static async Task WaitUntilSettledAsync(IReservationGrain reservation, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + MigrationWait;
        while (DateTime.UtcNow < deadline && (await reservation.GetAsync())?.State == ReservationState.Migrating)
        {
            await Task.Delay(SettlePoll, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Moving {Count} reservations off node {NodeId} (make-before-break: {MakeBeforeBreak})")]
    private static partial void LogEvacuating(ILogger logger, long nodeId, int count, bool makeBeforeBreak);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not count node {NodeId}'s loss towards the mass-failure brake")]
    private static partial void LogBrakeUnavailable(ILogger logger, Exception exception, long nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Moving reservation {ReservationId} off node {NodeId} failed")]
    private static partial void LogMoveFailed(ILogger logger, Exception exception, long reservationId, long nodeId);
}
