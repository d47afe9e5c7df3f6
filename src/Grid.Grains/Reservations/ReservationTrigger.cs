namespace Grid.Reservations;

/// <summary>What happens to a reservation; <see cref="ReservationLifecycle"/> says which state each leads to.</summary>
public enum ReservationTrigger
{
    /// <summary>Its first placement is durable.</summary>
    Placed,

    /// <summary>Cancelled by its tenant, or by billing once its grace period is over.</summary>
    Cancel,

    /// <summary>Its node is down and it is pinned to that node: it waits for the node to return.</summary>
    PinnedNodeDown,

    /// <summary>Its node is down and no other node fits: placement is retried with backoff.</summary>
    NoNodeFits,

    /// <summary>Moved to another node, letting go of the old one at once.</summary>
    Moved,

    /// <summary>Moved make-before-break: the old placement runs until its workloads run on the new one.</summary>
    MovedBeforeBreak,

    /// <summary>A make-before-break move is complete (the new copies run, or the migration timed out).</summary>
    MigrationDone,

    /// <summary>A prepaid bill is unpaid: its workloads stop, its capacity and addresses are kept.</summary>
    Unpaid,

    /// <summary>The tenant's balance covers the unpaid bill again.</summary>
    Funded,

    /// <summary>The node it could not leave (pinned, or nothing else fitted) is back.</summary>
    NodeReturned,

    /// <summary>Its node released it to make room for a reservation of higher priority (or one that is not spot).</summary>
    Preempt,
}
