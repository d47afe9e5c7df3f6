namespace Grid.Scheduling;

/// <summary>
/// The scheduler's side of rent contracts, as pure functions of a node summary: a node rented by a twin takes only
/// that twin's reservations (also by moves), and a reservation there is paid by the rent (not metered on its own).
/// The node grain's <c>TryAllocate</c> refuses the same, authoritatively.
/// </summary>
public static class RentFilter
{
    /// <summary>The rejection reason a 409 names.</summary>
    public const string Rented = "rented by another twin";

    /// <summary><see cref="Rented"/> when another twin than <paramref name="twinId"/> rents <paramref name="node"/>; null otherwise.</summary>
    public static string? Reject(NodeSummary node, long twinId) => node.RentedBy is { } renter && renter != twinId ? Rented : null;

    /// <summary>True when <paramref name="twinId"/> itself rents the node (its reservations there are paid by the rent).</summary>
    public static bool RentedBy(NodeSummary? node, long twinId) => node?.RentedBy == twinId;
}
