namespace Grid.Reservations;

/// <summary>What a reservation asked to leave a node must do (see <see cref="ReservationMovePolicy.Decide"/>).</summary>
public enum ReservationMoveAction
{
    /// <summary>
    /// It left that node already (or was cancelled), yet the node still asks: the release after the move or cancel
    /// was lost with a silo, so the node drops the stale epoch (<see cref="ReservationMovePolicy.StaleEpoch"/>).
    /// </summary>
    ReleaseStale,

    /// <summary>The node is the previous one of a make-before-break move in progress: released when the move completes.</summary>
    AwaitMigration,

    /// <summary>Pinned to the node: it stays (lost while the node is down, in place during a drain).</summary>
    StayPinned,

    /// <summary>It serves from the node and may leave it: a placement elsewhere is tried.</summary>
    Move,
}
