using Grid.Billing;

namespace Grid.Rents;

/// <summary>A node's rent: the current contract (null when not rented) and its meter over the node's whole capacity.</summary>
[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.node-rent")]
public sealed class NodeRentState
{
    [Id(0)] public RentContract? Contract { get; set; }

    /// <summary>Runs while the node is up (and the rent not in grace); its bills are the rent's.</summary>
    [Id(1)] public ReservationMeter Meter { get; set; } = new();

    /// <summary>The node's total capacity, shown on the bill lines.</summary>
    [Id(2)] public Capacity Total { get; set; } = Capacity.Zero;

    /// <summary>Prepaid only: since when a bill is unpaid (the meter stops; the rent ends after the grace period).</summary>
    [Id(3)] public DateTimeOffset? GraceSince { get; set; }
}
