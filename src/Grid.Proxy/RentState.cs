namespace Grid.Proxy;

/// <summary>
/// A node's renting state as ThreeFold's grid proxy answers it (its "Filters &amp; Fields" truth table): rented when a
/// rent contract holds it; rentable when it has neither a rent contract nor any contract (reservation) of anyone; shared
/// otherwise. This grid has no dedicated farms, so a node with reservations is shared, never "rentable only".
/// </summary>
public static class RentState
{
    public static bool Rentable(NodeSummary node) => node.RentedBy is null && node.Allocations == 0;
}
