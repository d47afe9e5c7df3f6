using Grid.Grains;
using Grid.Telemetry;
using Microsoft.Extensions.Logging;

namespace Grid.Reservations;

/// <summary>
/// A reservation's moves: off a lost or draining node, the migration that follows a make-before-break move, and the
/// retries of an unschedulable reservation. Runs on its grain's turns; what to do is decided by
/// <see cref="ReservationMovePolicy"/>, the record written through <see cref="ReservationStore"/>.
/// </summary>
/// <param name="reservationId">The reservation moved.</param>
/// <param name="store">Its record and the one way to write it.</param>
/// <param name="placement">Finds the node a move goes to.</param>
/// <param name="billing">Meters the lost node and the move.</param>
/// <param name="metrics">Counts the moves.</param>
/// <param name="logger">The grain's logger.</param>
/// <param name="grains">For the nodes released and the workloads re-placed.</param>
/// <param name="timers">The grain's timers and retry reminder.</param>
/// <param name="firstBackoff">The wait before the first retry of an unschedulable reservation.</param>
/// <param name="credentials">The pull credentials its assignments carry.</param>
/// <param name="notice">How long preempted workloads run after SIGTERM: a preempted reservation is placed again only after it.</param>
public sealed partial class ReservationMoves(
    long reservationId,
    ReservationStore store,
    IReservationPlacement placement,
    ReservationBilling billing,
    GridMetrics metrics,
    ILogger logger,
    IGrainFactory grains,
    IReservationTimers timers,
    TimeSpan firstBackoff,
    ReservationCredentials credentials,
    TimeSpan notice)
{
    /// <summary>The reminder that retries an unschedulable reservation's placement; the grain hands it to <see cref="RetryPlacementAsync"/>.</summary>
    public const string RetryReminder = "retry-placement";

    private static readonly TimeSpan MigrationTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Doublings of the first backoff a preempted reservation's retries stop at.</summary>
    private const int PreemptedMaxDoublings = 3;

    private IGrainTimer? _retryTimer;

    private ReservationRecord Record => store.Record;

    /// <summary>At activation: a migration or the retries in progress when the last activation went go on.</summary>
    public void Resume()
    {
        if (Record.State == ReservationState.Migrating)
        {
            ScheduleMigrationTimeout();
        }
        else if (Record.State is ReservationState.Unschedulable or ReservationState.Preempted)
        {
            // Reactivated after a silo loss: retry at the short backoff again rather than wait for the reminder
            // (its period is the longest backoff).
            StartRetryTimer(firstBackoff);
        }
    }

    /// <summary>Moves off <paramref name="nodeId"/>, lost or (<paramref name="makeBeforeBreak"/>) draining; answers whether the reservation left it.</summary>
    public Task<bool> EvacuateAsync(long nodeId, bool makeBeforeBreak, DateTimeOffset? lastHeartbeat)
    {
        if (!makeBeforeBreak)
        {
            billing.OnNodeLost(nodeId, lastHeartbeat);
        }

        return store.PlacingAsync(Record.Epoch + 1, async () => (await MoveAsync(nodeId, makeBeforeBreak, callerReleases: false)).Moved);
    }

    /// <summary>Moves off lost node <paramref name="nodeId"/>; answers the epoch the caller must release there (0: nothing).</summary>
    public Task<long> MoveOffLostNodeAsync(long nodeId, DateTimeOffset? lastHeartbeat)
    {
        billing.OnNodeLost(nodeId, lastHeartbeat);
        return store.PlacingAsync(Record.Epoch + 1, async () => (await MoveAsync(nodeId, makeBeforeBreak: false, callerReleases: true)).Release);
    }

    /// <summary>Ends a make-before-break move: the reservation is active on its new node and the previous one is released.</summary>
    public async Task CompleteMigrationAsync(string why)
    {
        if (!ReservationLifecycle.Allows(Record.State, ReservationTrigger.MigrationDone) || Record.PreviousNodeId is not { } previous)
        {
            return;
        }

        var previousEpoch = Record.PreviousEpoch;
        store.Fire(ReservationTrigger.MigrationDone);
        Record.PreviousNodeId = null;
        store.AddEvent("migrated", Record.NodeId, $"Released node {previous} (epoch {previousEpoch}): {why}.");
        await store.WriteAsync();
        await ReleaseQuietlyAsync(previous, previousEpoch);
    }

    /// <summary>Tries an unschedulable reservation's move, or a preempted one's placement, again; in any other state the retries stop.</summary>
    public async Task RetryPlacementAsync()
    {
        if (Record.State == ReservationState.Preempted)
        {
            await PlaceAgainAsync();
            return;
        }

        if (Record.State != ReservationState.Unschedulable || Record.NodeId is not { } nodeId)
        {
            await StopRetryingAsync();
            return;
        }

        Record.Retries++;
        await EvacuateAsync(nodeId, makeBeforeBreak: false, lastHeartbeat: null);
    }

    /// <summary>
    /// Node <paramref name="nodeId"/> released this reservation's <paramref name="epoch"/> for reservation
    /// <paramref name="byReservationId"/>: billing stops now, nothing is held, and it is placed again (without preempting)
    /// once its workloads' notice is over, so its copies never run twice; until room appears it stays preempted and
    /// retries like an unschedulable reservation. A stale epoch (the reservation had moved on) changes nothing.
    /// </summary>
    public async Task PreemptedAsync(long nodeId, long epoch, long byReservationId)
    {
        if (!store.Exists)
        {
            return;
        }

        if (Record.State == ReservationState.Migrating && Record.PreviousNodeId == nodeId && Record.PreviousEpoch == epoch)
        {
            await CompleteMigrationAsync($"its copy there was preempted by reservation {byReservationId}");
            return;
        }

        if (Record.NodeId != nodeId || Record.Epoch != epoch)
        {
            return;
        }

        if (!ReservationLifecycle.Allows(Record.State, ReservationTrigger.Preempt))
        {
            // Went into grace after the scheduler checked it (it spares grace): nothing runs, so it moves at once if
            // something fits; else it keeps pointing at the node until its next move (a known, narrow gap).
            store.AddEvent("preempted", nodeId, $"Preempted on node {nodeId} by reservation {byReservationId} while in grace.");
            await store.PlacingAsync(epoch + 1, () => MoveElsewhereAsync(nodeId, makeBeforeBreak: false, callerReleases: false));
            return;
        }

        var previous = Record.PreviousNodeId is { } old ? (Node: old, Epoch: Record.PreviousEpoch) : ((long Node, long Epoch)?)null;
        Record.PreemptedAt = billing.OnPreempted();
        store.Fire(ReservationTrigger.Preempt);
        Record.PreemptedBy = byReservationId;
        Record.PublicIps = [];
        Record.PreviousNodeId = null;
        Record.Retries = 0;
        store.AddEvent("preempted", nodeId,
            $"Preempted on node {nodeId} by reservation {byReservationId}: its workloads got {notice.TotalSeconds:0.###} s notice and billing stopped. "
            + "It is placed again once the notice is over and room appears.");
        await store.WriteAsync();
        metrics.Moved("preempted", nodeId, nodeId);
        if (previous is { } copy)
        {
            // A migration's old copy holds nothing it could keep now: it goes too.
            await ReleaseQuietlyAsync(copy.Node, copy.Epoch);
        }

        StartRetryTimer(UntilNextLook(notice));
        await timers.KeepReminderAsync(RetryReminder, ReservationMovePolicy.MaxBackoff);
    }

    /// <summary>A preempted reservation's next try, once the notice is over: anywhere it fits, without preempting.</summary>
    private async Task PlaceAgainAsync()
    {
        var wait = Record.PreemptedAt + notice - billing.Now;
        if (wait > TimeSpan.Zero)
        {
            StartRetryTimer(UntilNextLook(wait.Value));
            return;
        }

        var from = Record.NodeId!.Value;
        var epoch = Record.Epoch + 1;
        await store.PlacingAsync(epoch, async () =>
        {
            var assignments = Record.Assignments(reservationId, epoch, await credentials.LookupAsync(Record.Workloads));
            var (target, _) = await placement.PlaceMoveAsync(reservationId, epoch, Record.Request!, assignments, new HashSet<long>());
            if (target is null)
            {
                Record.Retries++;
                await store.WriteAsync();
                await ScheduleRetryAsync();
                return false;
            }

            Record.NodeId = target.NodeId;
            Record.Epoch = epoch;
            Record.PublicIps = [.. target.PublicIps];
            Record.Retries = 0;
            store.Fire(ReservationTrigger.Moved);
            billing.OnMoved(from, target, epoch);
            store.AddEvent("placed-again", target.NodeId,
                $"Placed again on node {target.NodeId} (epoch {epoch}) after its preemption by reservation {Record.PreemptedBy}.");
            await store.WriteAsync();
            _ = billing.FlushLedgerAsync();
            await StopRetryingAsync();
            await Task.WhenAll(Record.Workloads.Keys.Select(id => grains.GetGrain<IWorkloadGrain>(id).PlacedAsync(target.NodeId, epoch)));
            return true;
        });
    }

    /// <summary>
    /// The timer's wait while a notice runs: the notice is measured in grid time, the timer in real time, so the
    /// reservation looks again at least every first backoff (a few looks per notice).
    /// </summary>
    private TimeSpan UntilNextLook(TimeSpan left) => left < firstBackoff ? left + TimeSpan.FromMilliseconds(10) : firstBackoff;

    /// <summary>
    /// Retries may be scheduled: a retry timer runs, or the record is in the only states that register the retry
    /// reminder. Any other reservation has none to stop, so its move skips the reminder lookup (a reminder-table
    /// read per move, a thousand of them in a node's failover); a reminder left over anyway stops itself when it
    /// fires (<see cref="RetryPlacementAsync"/> in any other state).
    /// </summary>
    private bool RetriesPending => _retryTimer is not null || Record.State is ReservationState.Unschedulable or ReservationState.Preempted;

    /// <summary>Stops the retries: their timer and reminder.</summary>
    public async Task StopRetryingAsync()
    {
        _retryTimer?.Dispose();
        _retryTimer = null;
        await timers.StopReminderAsync(RetryReminder);
    }

    /// <summary>
    /// Moves off <paramref name="nodeId"/>. Answers whether the reservation left it (or had left it already), and
    /// with <paramref name="callerReleases"/> the epoch the caller must release there (0: nothing left to release).
    /// </summary>
    private async Task<(bool Moved, long Release)> MoveAsync(long nodeId, bool makeBeforeBreak, bool callerReleases)
    {
        if (!store.Exists)
        {
            return (await store.GoneAsync(), 0);
        }

        switch (ReservationMovePolicy.Decide(Record, nodeId))
        {
            case ReservationMoveAction.ReleaseStale:
                var stale = ReservationMovePolicy.StaleEpoch(Record);
                if (callerReleases)
                {
                    return (true, stale);
                }

                await ReleaseQuietlyAsync(nodeId, stale);
                return (true, 0);
            case ReservationMoveAction.AwaitMigration:
                return (true, 0);
            case ReservationMoveAction.StayPinned:
                // Lost and grace stay as they are (see ReservationLifecycle); a drain leaves a pinned reservation in place.
                if (!makeBeforeBreak && ReservationLifecycle.Allows(Record.State, ReservationTrigger.PinnedNodeDown))
                {
                    store.Fire(ReservationTrigger.PinnedNodeDown);
                    store.AddEvent("lost", nodeId, $"Pinned to node {nodeId}, which is down; waiting for it to return.");
                    await store.WriteAsync();
                }

                return (false, 0);
            default:
                return await MoveElsewhereAsync(nodeId, makeBeforeBreak, callerReleases);
        }
    }

    private async Task<(bool Moved, long Release)> MoveElsewhereAsync(long nodeId, bool makeBeforeBreak, bool callerReleases)
    {
        var oldEpoch = Record.Epoch;
        var epoch = oldEpoch + 1;
        var retrying = RetriesPending;
        var assignments = Record.Assignments(reservationId, epoch, await credentials.LookupAsync(Record.Workloads));
        var (target, report) = await placement.PlaceMoveAsync(reservationId, epoch, Record.Request!, assignments, new HashSet<long> { nodeId });
        if (target is null)
        {
            if (!makeBeforeBreak && !ReservationLifecycle.Allows(Record.State, ReservationTrigger.NoNodeFits))
            {
                // Stays in grace (a retry's move would make it active unpaid); the down node's evacuation asks again.
                return (false, 0);
            }

            if (!makeBeforeBreak)
            {
                store.Fire(ReservationTrigger.NoNodeFits);
                store.AddEvent("unschedulable", nodeId, $"Node {nodeId} is down and no other node fits: {report!.Describe()}. Retrying.");
                await store.WriteAsync();
                await ScheduleRetryAsync();
            }
            else
            {
                store.AddEvent("move-failed", nodeId, $"Could not move off draining node {nodeId}: {report!.Describe()}.");
                await store.WriteAsync();
            }

            return (false, 0);
        }

        Record.NodeId = target.NodeId;
        Record.Epoch = epoch;
        Record.PublicIps = [.. target.PublicIps];
        Record.Retries = 0;
        // Make-before-break only when there are copies to start first (never in grace: nothing runs there).
        var waitForWorkloads = makeBeforeBreak && Record.Workloads.Count > 0
            && ReservationLifecycle.Allows(Record.State, ReservationTrigger.MovedBeforeBreak);
        store.Fire(waitForWorkloads ? ReservationTrigger.MovedBeforeBreak : ReservationTrigger.Moved);
        billing.OnMoved(nodeId, target, epoch);
        Record.PreviousNodeId = waitForWorkloads ? nodeId : null;
        Record.PreviousEpoch = waitForWorkloads ? oldEpoch : 0;
        store.AddEvent("moved", target.NodeId,
            $"Moved from node {nodeId} (epoch {oldEpoch}) to node {target.NodeId} (epoch {epoch}){(makeBeforeBreak ? ", make-before-break" : "")}.");
        foreach (var volume in Record.VolumeNames())
        {
            // Honest local semantics: the volume's data stays on the old node; the new one makes it anew, empty.
            store.AddEvent("volume-reset", target.NodeId, $"Volume {volume} starts empty on node {target.NodeId}; its data stayed on node {nodeId}.");
        }

        await store.WriteAsync();
        // Like the placed event: durable in the write above, on its way to the ledger after it (a lost silo's
        // events go at the next flush), so a node's evacuation does not wait for a ledger commit per move.
        _ = billing.FlushLedgerAsync();
        metrics.Moved(makeBeforeBreak ? "drain" : "node-down", nodeId, target.NodeId);
        LogMoved(logger, reservationId, nodeId, target.NodeId, epoch);
        if (retrying)
        {
            await StopRetryingAsync();
        }

        await Task.WhenAll(Record.Workloads.Keys.Select(id => grains.GetGrain<IWorkloadGrain>(id).PlacedAsync(target.NodeId, epoch)));
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

    private void ScheduleMigrationTimeout() =>
        timers.StartTimer(() => CompleteMigrationAsync("migration timeout"), MigrationTimeout);

    private async Task ScheduleRetryAsync()
    {
        // A preempted reservation looks for room more often (at most 8 first backoffs apart): room appears when a node
        // joins or frees capacity, and it was running a moment ago.
        var retries = Record.State == ReservationState.Preempted ? Math.Min(Record.Retries, PreemptedMaxDoublings) : Record.Retries;
        StartRetryTimer(ReservationMovePolicy.RetryBackoff(firstBackoff, retries));
        // The reminder survives a silo loss; the timer gives the fast backoff in between.
        await timers.KeepReminderAsync(RetryReminder, ReservationMovePolicy.MaxBackoff);
    }

    private void StartRetryTimer(TimeSpan backoff)
    {
        _retryTimer?.Dispose();
        _retryTimer = timers.StartTimer(RetryPlacementAsync, backoff);
    }

    private async Task ReleaseQuietlyAsync(long nodeId, long epoch)
    {
        try
        {
            await grains.GetGrain<INodeGrain>(nodeId).ReleaseAsync(reservationId, epoch);
        }
        catch (Exception exception)
        {
            // The node's orphan check releases it later: the reservation no longer points there.
            LogReleaseFailed(logger, exception, reservationId, nodeId, epoch);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reservation {ReservationId} moved from node {From} to node {To} (epoch {Epoch})")]
    private static partial void LogMoved(ILogger logger, long reservationId, long from, long to, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reservation {ReservationId} could not release node {NodeId} epoch {Epoch}")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, long reservationId, long nodeId, long epoch);
}
