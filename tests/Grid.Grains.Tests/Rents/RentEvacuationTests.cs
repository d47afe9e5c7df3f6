using Grid.Testing;

namespace Grid.Grains.Tests.Rents;

/// <summary>
/// A lost node's reservations and a rented node: moves obey the rent as placements do. The renter's reservation moves
/// onto the node it rents; another twin's never does, though it fits there, and waits unschedulable until the rent ends.
/// </summary>
public sealed class RentEvacuationTests
{
    private static readonly Capacity Machine = new(8, 8L << 30, 0, 0);
    private static readonly Capacity Small = new(1, 1L << 30, 0, 0);

    [Fact]
    public async Task ALostNodesReservationsMoveOntoARentedNodeOnlyWhenTheyAreTheRenters()
    {
        await using var grid = await GridCluster.StartAsync(("Grid:Health:RetryBackoff", "00:00:00.100"), ("Grid:Billing:TickInterval", "01:00:00"));
        var (farmer, renter, other) = (GridCluster.NewId(), GridCluster.NewId(), GridCluster.NewId());
        var farm = await grid.CreateFarmAsync(farmer);
        var lost = await grid.RegisterNodeAsync(farm, farmer, Machine);
        var mine = await grid.ReserveAsync(renter, Small);
        var theirs = await grid.ReserveAsync(other, Small);
        Assert.Equal((lost, lost), (mine.NodeId, theirs.NodeId));
        var rented = await grid.RegisterNodeAsync(farm, farmer, Machine);
        var contract = await grid.Grains.GetGrain<INodeRentGrain>(rented).RentAsync(renter, GridCluster.NewId());
        Assert.Equal(renter, contract.TwinId);

        // The lost node goes silent; the rented node (the only other one, with room for both) keeps beating.
        await grid.AdvanceAsync(TimeSpan.FromSeconds(10), [rented]);

        var moved = await UntilAsync(grid, mine.ReservationId, r => r.State == ReservationState.Active && r.NodeId == rented, "the renter's reservation on its rented node");
        var waiting = await UntilAsync(grid, theirs.ReservationId, r => r.State == ReservationState.Unschedulable, "the other twin's reservation unschedulable");
        Assert.Equal(2, moved.Epoch);
        Assert.NotEqual(rented, waiting.NodeId);
        // Its retries keep finding the rented node closed to it: it never lands there while the rent lasts.
        await grid.AdvanceAsync(TimeSpan.FromSeconds(2), [rented], TimeSpan.FromMilliseconds(200));
        var node = (await grid.Grains.GetGrain<INodeGrain>(rented).GetAsync())!;
        Assert.Equal([mine.ReservationId], node.Allocations.Select(a => a.ReservationId));
        Assert.Equal(ReservationState.Unschedulable, (await Reservation(grid, theirs.ReservationId).GetAsync())!.State);

        // The rent ends: the node is shared again and the other twin's reservation moves there.
        Assert.True(await grid.Grains.GetGrain<INodeRentGrain>(rented).ReleaseAsync(renter));
        var placed = await UntilAsync(grid, theirs.ReservationId, r => r.State == ReservationState.Active && r.NodeId == rented, "the other twin's reservation placed once the rent ended");
        Assert.Equal(2, placed.Epoch);
        node = (await grid.Grains.GetGrain<INodeGrain>(rented).GetAsync())!;
        Assert.True(node.Total.Covers(node.Used), $"node {rented} is overbooked: {node.Used} of {node.Total}");
    }

    private static IReservationGrain Reservation(GridCluster grid, long id) => grid.Grains.GetGrain<IReservationGrain>(id);

    private static async Task<ReservationInfo> UntilAsync(GridCluster grid, long id, Func<ReservationInfo, bool> condition, string what)
    {
        ReservationInfo? seen = null;
        await Poll.UntilAsync(async () => condition(seen = (await Reservation(grid, id).GetAsync())!), TimeSpan.FromSeconds(30), what);
        return seen!;
    }
}
