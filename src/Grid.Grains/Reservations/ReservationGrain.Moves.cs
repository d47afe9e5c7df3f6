using Grid.Grains;
using Microsoft.Extensions.Logging;

namespace Grid.Reservations;

/// <summary>Moves off a lost or draining node, the migration that follows a make-before-break move, and the retries of an unschedulable reservation.</summary>
public sealed partial class ReservationGrain
{
    /// <summary>
    /// Moves off <paramref name="nodeId"/>. Answers whether the reservation left it (or had left it already), and
    /// with <paramref name="callerReleases"/> the epoch the caller must release there (0: nothing left to release).
    /// </summary>
    private async Task<(bool Moved, long Release)> MoveAsync(long nodeId, bool makeBeforeBreak, bool callerReleases)
    {
        if (!_store.Exists)
        {
            return (await _store.GoneAsync(), 0);
        }

        if (Record.State == ReservationState.Cancelled || (Record.NodeId != nodeId && Record.PreviousNodeId != nodeId))
        {
            // Asked again by a node that still holds this reservation although it moved away or was cancelled: the
            // release after the move (or cancel) was lost with a silo. Only older epochs are dropped there.
            var stale = Record.State == ReservationState.Cancelled ? Record.Epoch : Record.Epoch - 1;
            if (callerReleases)
            {
                return (true, stale);
            }

            await ReleaseQuietlyAsync(nodeId, stale);
            return (true, 0);
        }

        if (Record.NodeId != nodeId)
        {
            // The previous node of a move in progress: released when the move completes.
            return (true, 0);
        }

        if (Record.Request!.Constraints.NodeId is not null)
        {
            // Lost and grace stay as they are (see ReservationLifecycle); a drain leaves a pinned reservation in place.
            if (!makeBeforeBreak && ReservationLifecycle.Allows(Record.State, ReservationTrigger.PinnedNodeDown))
            {
                _store.Fire(ReservationTrigger.PinnedNodeDown);
                _store.AddEvent("lost", nodeId, $"Pinned to node {nodeId}, which is down; waiting for it to return.");
                await _store.WriteAsync();
            }

            return (false, 0);
        }

        var oldEpoch = Record.Epoch;
        var epoch = oldEpoch + 1;
        var assignments = Record.Assignments(ReservationId, epoch);
        var (placement, report) = await _placement.PlaceMoveAsync(ReservationId, epoch, Record.Request, assignments, new HashSet<long> { nodeId });
        if (placement is null)
        {
            if (!makeBeforeBreak && !ReservationLifecycle.Allows(Record.State, ReservationTrigger.NoNodeFits))
            {
                // Stays in grace (a retry's move would make it active unpaid); the down node's evacuation asks again.
                return (false, 0);
            }

            if (!makeBeforeBreak)
            {
                _store.Fire(ReservationTrigger.NoNodeFits);
                _store.AddEvent("unschedulable", nodeId, $"Node {nodeId} is down and no other node fits: {report!.Describe()}. Retrying.");
                await _store.WriteAsync();
                await ScheduleRetryAsync();
            }
            else
            {
                _store.AddEvent("move-failed", nodeId, $"Could not move off draining node {nodeId}: {report!.Describe()}.");
                await _store.WriteAsync();
            }

            return (false, 0);
        }

        Record.NodeId = placement.NodeId;
        Record.Epoch = epoch;
        Record.PublicIps = [.. placement.PublicIps];
        Record.Retries = 0;
        // Make-before-break only when there are copies to start first (never in grace: nothing runs there).
        var waitForWorkloads = makeBeforeBreak && Record.Workloads.Count > 0
            && ReservationLifecycle.Allows(Record.State, ReservationTrigger.MovedBeforeBreak);
        _store.Fire(waitForWorkloads ? ReservationTrigger.MovedBeforeBreak : ReservationTrigger.Moved);
        Billing.OnMoved(nodeId, placement, epoch);
        Record.PreviousNodeId = waitForWorkloads ? nodeId : null;
        Record.PreviousEpoch = waitForWorkloads ? oldEpoch : 0;
        _store.AddEvent("moved", placement.NodeId,
            $"Moved from node {nodeId} (epoch {oldEpoch}) to node {placement.NodeId} (epoch {epoch}){(makeBeforeBreak ? ", make-before-break" : "")}.");
        await _store.WriteAsync();
        // Like the placed event: durable in the write above, on its way to the ledger after it (a lost silo's
        // events go at the next flush), so a node's evacuation does not wait for a ledger commit per move.
        _ = Billing.FlushLedgerAsync();
        _metrics.Moved(makeBeforeBreak ? "drain" : "node-down", nodeId, placement.NodeId);
        LogMoved(_logger, ReservationId, nodeId, placement.NodeId, epoch);
        await StopRetryingAsync();

        await Task.WhenAll(Record.Workloads.Keys.Select(id => GrainFactory.GetGrain<IWorkloadGrain>(id).PlacedAsync(placement.NodeId, epoch)));
        if (waitForWorkloads)
        {
            ScheduleMigrationTimeout();
        }
        else if (callerReleases)
        {
            return (true, oldEpoch);
        }
        else
        {
            await ReleaseQuietlyAsync(nodeId, oldEpoch);
        }

        return (true, 0);
    }

    private async Task CompleteMigrationAsync(string why)
    {
        if (!ReservationLifecycle.Allows(Record.State, ReservationTrigger.MigrationDone) || Record.PreviousNodeId is not { } previous)
        {
            return;
        }

        var previousEpoch = Record.PreviousEpoch;
        _store.Fire(ReservationTrigger.MigrationDone);
        Record.PreviousNodeId = null;
        _store.AddEvent("migrated", Record.NodeId, $"Released node {previous} (epoch {previousEpoch}): {why}.");
        await _store.WriteAsync();
        await ReleaseQuietlyAsync(previous, previousEpoch);
    }

    private void ScheduleMigrationTimeout() =>
        this.RegisterGrainTimer(_ => CompleteMigrationAsync("migration timeout"), MigrationTimeout, Timeout.InfiniteTimeSpan);

    private async Task RetryPlacementAsync()
    {
        if (Record.State != ReservationState.Unschedulable || Record.NodeId is not { } nodeId)
        {
            await StopRetryingAsync();
            return;
        }

        Record.Retries++;
        await EvacuateAsync(nodeId, makeBeforeBreak: false);
    }

    private async Task ScheduleRetryAsync()
    {
        var backoff = TimeSpan.FromTicks(Math.Min(
            MaxBackoff.Ticks, _health.Value.RetryBackoff.Ticks * (1L << Math.Min(Record.Retries, 10))));
        StartRetryTimer(backoff);
        // The reminder survives a silo loss; the timer gives the fast backoff in between.
        await this.RegisterOrUpdateReminder(RetryReminder, MaxBackoff, MaxBackoff);
    }

    private void StartRetryTimer(TimeSpan backoff)
    {
        _retryTimer?.Dispose();
        _retryTimer = this.RegisterGrainTimer(_ => RetryPlacementAsync(), backoff, Timeout.InfiniteTimeSpan);
    }

    private async Task StopRetryingAsync()
    {
        _retryTimer?.Dispose();
        _retryTimer = null;
        if (await this.GetReminder(RetryReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    private async Task ReleaseQuietlyAsync(long nodeId, long epoch)
    {
        try
        {
            await GrainFactory.GetGrain<INodeGrain>(nodeId).ReleaseAsync(ReservationId, epoch);
        }
        catch (Exception exception)
        {
            // The node's orphan check releases it later: the reservation no longer points there.
            LogReleaseFailed(_logger, exception, ReservationId, nodeId, epoch);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reservation {ReservationId} moved from node {From} to node {To} (epoch {Epoch})")]
    private static partial void LogMoved(ILogger logger, long reservationId, long from, long to, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reservation {ReservationId} could not release node {NodeId} epoch {Epoch}")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, long reservationId, long nodeId, long epoch);
}
