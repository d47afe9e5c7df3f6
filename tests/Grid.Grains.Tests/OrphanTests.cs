using Grid.Grains;

namespace Grid.Grains.Tests;

public sealed class OrphanTests
{
    [Fact]
    public async Task AllocationsAndAddressesNoReservationHoldsAreReleasedButPlacedOnesKept()
    {
        await using var grid = await GridCluster.StartAsync(("Grid:Health:OrphanCheckInterval", "00:00:00.200"));
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin, publicIps: 2);
        // An address taken for a placement that then failed before any node recorded it.
        Assert.NotNull(await grid.Grains.GetGrain<IFarmGrain>(farm).AllocateIpsAsync(GridCluster.NewId(), 1, 1));
        var nodeId = await grid.RegisterNodeAsync(farm, twin, new Capacity(8, 8L << 30, 0, 0));
        var node = grid.Grains.GetGrain<INodeGrain>(nodeId);
        var placed = await grid.ReserveAsync(twin, new Capacity(1, 1L << 30, 0, 0));

        // What a crash between the node's write and the reservation's write leaves behind.
        var orphan = GridCluster.NewId();
        Assert.Equal(AllocationOutcome.Allocated,
            (await node.TryAllocateAsync(new AllocationRequest(orphan, 1, twin, new Capacity(2, 2L << 30, 0, 0, 1), null, []))).Outcome);
        Assert.Equal(0, await grid.Grains.GetGrain<IFarmGrain>(farm).FreeIpCountAsync());

        await grid.AdvanceAsync(TimeSpan.FromSeconds(2), [nodeId]);
        await GridCluster.UntilAsync(async () => (await node.GetAsync())!.Allocations.Length == 1, "the orphan is released");

        Assert.Equal(placed.ReservationId, (await node.GetAsync())!.Allocations.Single().ReservationId);
        await GridCluster.UntilAsync(async () => await grid.Grains.GetGrain<IFarmGrain>(farm).FreeIpCountAsync() == 2, "both leaked addresses are free");
    }
}
