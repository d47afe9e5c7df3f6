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
        var releases = batch.MakeBeforeBreak ? null : new LostNodeReleases(grains.GetGrain<INodeGrain>(batch.NodeId), batch.NodeId, logger);
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
                if (releases is not null)
                {
                    // The lost node is released of the moved reservations together, not with one write per move.
                    var release = await reservation.MoveOffLostNodeAsync(batch.NodeId, batch.LastHeartbeat);
                    if (release > 0)
                    {
                        releases.Add(new HeldPlacement(reservationId, release));
                    }
                }
                else if (await reservation.EvacuateAsync(batch.NodeId, batch.MakeBeforeBreak, batch.LastHeartbeat))
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

        if (releases is not null)
        {
            await releases.DrainAsync();
        }
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Releasing {Count} moved reservations on lost node {NodeId} failed; its next evacuation check releases them")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, int count, long nodeId);

    /// <summary>
    /// Releases moved reservations on the lost node with one call (one write of the node) in flight at a time: what
    /// moves meanwhile goes in the next call. A silo failover drops calls, so a failed call is retried; if it still
    /// fails, the node keeps those allocations until its next evacuation check, whose moves find the reservations
    /// gone from it and release them again.
    /// </summary>
    private sealed class LostNodeReleases(INodeGrain node, long nodeId, ILogger logger)
    {
        private static readonly TimeSpan[] Retries = [TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1)];
        private readonly Lock _gate = new();
        private readonly List<HeldPlacement> _pending = [];
        private bool _sending;
        private Task _sender = Task.CompletedTask;

        public void Add(HeldPlacement held)
        {
            lock (_gate)
            {
                _pending.Add(held);
                if (_sending)
                {
                    return;
                }

                _sending = true;
                _sender = SendAsync();
            }
        }

        /// <summary>Ends when everything added before the call has been released (or given up on).</summary>
        public Task DrainAsync()
        {
            lock (_gate)
            {
                return _sender;
            }
        }

        private async Task SendAsync()
        {
            await Task.Yield();
            while (true)
            {
                ImmutableArray<HeldPlacement> batch;
                lock (_gate)
                {
                    if (_pending.Count == 0)
                    {
                        _sending = false;
                        return;
                    }

                    batch = [.. _pending];
                    _pending.Clear();
                }

                for (var attempt = 0; ; attempt++)
                {
                    try
                    {
                        await node.ReleaseManyAsync(batch);
                        break;
                    }
                    catch (Exception) when (attempt < Retries.Length)
                    {
                        await Task.Delay(Retries[attempt]);
                    }
                    catch (Exception exception)
                    {
                        LogReleaseFailed(logger, exception, batch.Length, nodeId);
                        break;
                    }
                }
            }
        }
    }
}
