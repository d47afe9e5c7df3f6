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
/// Drives moves off a lost or draining node outside the node grain's calls: marking a node down or draining answers
/// at once instead of waiting for moves the brake may pace for minutes (well past a call's timeout), and the moves
/// run in parallel on the thread pool rather than in the node's turns. (A deadlock is not the reason: the node grain
/// is reentrant, so reservations calling back into it to release would be served either way.)
/// </summary>
public sealed partial class EvacuationQueue(IGrainFactory grains, MassFailureBrake brake, GridMetrics metrics, ILogger<EvacuationQueue> logger)
{
    private const int DefaultParallelism = 64;
    private static readonly TimeSpan MigrationWait = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan SettlePoll = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan[] ReleaseRetries = [TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1)];

    /// <summary>Releases per call at most (a node holds up to thousands; a call stays well under the message limit).</summary>
    private const int MaxReleasesPerCall = 4096;

    /// <summary>
    /// Starts the moves; the task ends when every move of the batch ended (moved, refused or failed), with the number
    /// of moves and releases that failed (the node's next evacuation check retries those soon, see EvacuationPacing).
    /// </summary>
    public Task<int> Enqueue(EvacuationBatch batch)
    {
        metrics.EvacuationsQueued(batch.ReservationIds.Length);
        var cause = Activity.Current?.Context;
        return Task.Run(() => RunAsync(batch, cause));
    }

    private async Task<int> RunAsync(EvacuationBatch batch, ActivityContext? cause)
    {
        var failed = new Failures();
        await MoveAllAsync(batch, cause, failed);
        return failed.Count;
    }

    private async Task MoveAllAsync(EvacuationBatch batch, ActivityContext? cause, Failures failed)
    {
        var engagedAtLoss = !batch.MakeBeforeBreak && !batch.Resumed ? await RecordDownAsync(batch) : [];

        LogEvacuating(logger, batch.NodeId, batch.ReservationIds.Length, batch.MakeBeforeBreak);
        // Moved reservations are released on the lost node together, one call (one write of the node) at a time:
        // what moves meanwhile goes in the next call. Disposing the queue, at the end of the run, waits for the last.
        var node = grains.GetGrain<INodeGrain>(batch.NodeId);
        await using var releases = batch.MakeBeforeBreak ? null
            : new GroupCommitQueue<Release>(loops: 1, MaxReleasesPerCall, group => ReleaseAsync(node, batch.NodeId, group, failed));
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
                    var release = await reservation.MoveOffLostNodeAsync(batch.NodeId, batch.LastHeartbeat);
                    if (release > 0)
                    {
                        releases.Add(new Release(new HeldPlacement(reservationId, release)));
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
                failed.Add(1);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Releasing {Count} moved reservations on lost node {NodeId} failed; its next evacuation check releases them")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, int count, long nodeId);

    /// <summary>
    /// Releases moved reservations on the lost node. A silo failover drops calls, so a failed call is retried; if it
    /// still fails, the node keeps those allocations until its next evacuation check, whose moves find the
    /// reservations gone from it and answer their epochs for release again.
    /// </summary>
    private async Task ReleaseAsync(INodeGrain node, long nodeId, List<Release> group, Failures failed)
    {
        var placements = group.Select(r => r.Held).ToImmutableArray();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await node.ReleaseManyAsync(placements);
                return;
            }
            catch (Exception) when (attempt < ReleaseRetries.Length)
            {
                await Task.Delay(ReleaseRetries[attempt]);
            }
            catch (Exception exception)
            {
                LogReleaseFailed(logger, exception, placements.Length, nodeId);
                failed.Add(placements.Length);
                return;
            }
        }
    }

    /// <summary>Moves and releases of one run that failed, counted from its parallel moves.</summary>
    private sealed class Failures
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void Add(int count) => Interlocked.Add(ref _count, count);
    }

    /// <summary>
    /// A moved reservation's release on the lost node; nobody waits for it, so failing it is a no-op. A class: the
    /// queue's code for reference types is shared with the placer's and already compiled when a node is first lost.
    /// </summary>
    private sealed record Release(HeldPlacement Held) : IGroupItem
    {
        public void Fail(Exception exception)
        {
        }
    }
}
