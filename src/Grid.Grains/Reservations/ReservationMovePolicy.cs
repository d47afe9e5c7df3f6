namespace Grid.Reservations;

/// <summary>
/// The pure decisions of a reservation's moves, from its record alone: what a reservation asked to leave a node must
/// do, which epoch a node that still holds it after it left must drop, and how long an unschedulable reservation
/// waits before its next try. <see cref="ReservationMoves"/> carries them out.
/// </summary>
public static class ReservationMovePolicy
{
    /// <summary>The longest wait between two tries of an unschedulable reservation, and its retry reminder's period.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(60);

    // Past this many doublings the wait is at its cap anyway; the shift stays far from overflowing.
    private const int MaxDoublings = 10;

    /// <summary>What the reservation of <paramref name="record"/> (one that exists) must do when asked to leave <paramref name="nodeId"/>.</summary>
    public static ReservationMoveAction Decide(ReservationRecord record, long nodeId)
    {
        if (record.State == ReservationState.Cancelled || (record.NodeId != nodeId && record.PreviousNodeId != nodeId))
        {
            return ReservationMoveAction.ReleaseStale;
        }

        if (record.NodeId != nodeId)
        {
            return ReservationMoveAction.AwaitMigration;
        }

        return record.Request!.Constraints.NodeId is not null ? ReservationMoveAction.StayPinned : ReservationMoveAction.Move;
    }

    /// <summary>
    /// The epoch a node that still holds the reservation after it left (the node is neither its current nor its previous
    /// one) must drop, with every older one: the current epoch once the reservation is placed elsewhere or cancelled
    /// (a holder of the current epoch there is an orphan of a placement attempt that failed and landed on another node
    /// with the same epoch; keeping it leaked a lost node's allocation for good), the one before while it is not placed.
    /// A move in progress holds a newer epoch than the record's, so it is never dropped.
    /// </summary>
    public static long StaleEpoch(ReservationRecord record) =>
        record.State == ReservationState.Cancelled || record.NodeId is not null ? record.Epoch : record.Epoch - 1;

    /// <summary>The wait before the next try after <paramref name="retries"/> failed ones: <paramref name="first"/>, doubled per retry, at most <see cref="MaxBackoff"/>.</summary>
    public static TimeSpan RetryBackoff(TimeSpan first, int retries) =>
        TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, first.Ticks * (1L << Math.Min(retries, MaxDoublings))));
}
