using Grid.Grains;
using Grid.Testing;

namespace Grid.Grains.Tests;

public sealed class OrphanTests
{
    private static readonly Capacity Machine = new(8, 8L << 30, 0, 0);
    [Fact]
    public async Task AllocationsAndAddressesNoReservationHoldsAreReleasedButPlacedOnesKept()
    {
        await using var grid = await StartWithQuickChecksAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin, publicIps: 2);
        // An address taken for a placement that then failed before any node recorded it.
        Assert.NotNull(await grid.Grains.GetGrain<IFarmGrain>(farm).AllocateIpsAsync(GridCluster.NewId(), 1, 1));
        var nodeId = await grid.RegisterNodeAsync(farm, twin, Machine);
        var node = grid.Grains.GetGrain<INodeGrain>(nodeId);
        var placed = await grid.ReserveAsync(twin, new Capacity(1, 1L << 30, 0, 0));

        // What a crash between the node's write and the reservation's write leaves behind.
        var orphan = GridCluster.NewId();
        Assert.Equal(AllocationOutcome.Allocated,
            (await node.TryAllocateAsync(new AllocationRequest(orphan, 1, twin, new Capacity(2, 2L << 30, 0, 0, 1), null, []))).Outcome);
        Assert.Equal(0, await grid.Grains.GetGrain<IFarmGrain>(farm).FreeIpCountAsync());

        await grid.AdvanceAsync(TimeSpan.FromSeconds(2), [nodeId]);
        await Poll.UntilAsync(async () => (await node.GetAsync())!.Allocations.Length == 1, TimeSpan.FromSeconds(20), "the orphan is released");

        Assert.Equal(placed.ReservationId, (await node.GetAsync())!.Allocations.Single().ReservationId);
        await Poll.UntilAsync(async () => await grid.Grains.GetGrain<IFarmGrain>(farm).FreeIpCountAsync() == 2, TimeSpan.FromSeconds(20), "both leaked addresses are free");
    }

    [Fact]
    public async Task AnOrphanLeftByAFailedCreateDoesNotFreeTheAddressItsRetryHoldsOnAnotherNode()
    {
        await using var grid = await StartWithQuickChecksAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin, publicIps: 2);
        var first = await grid.RegisterNodeAsync(farm, twin, Machine);
        var second = await grid.RegisterNodeAsync(farm, twin, Machine);

        // A create whose reservation write failed after node `first` had allocated epoch 1 with an address...
        var reservationId = GridCluster.NewId();
        var resources = new Capacity(1, 1L << 30, 0, 0, 1);
        await grid.Grains.GetGrain<INodeGrain>(first)
            .TryAllocateAsync(new AllocationRequest(reservationId, 1, twin, resources, null, []));

        // ...retried with the same reservation id, and placed on the other node of the same farm.
        var retried = await grid.Grains.GetGrain<IReservationGrain>(reservationId).CreateAsync(new ReservationRequest(
            twin, resources, PlacementConstraints.None with { NodeId = second }, PlacementStrategy.Binpack));
        var address = Assert.Single(retried.Reservation!.PublicIps).Ip;

        await grid.AdvanceAsync(TimeSpan.FromSeconds(2), [first, second]);
        await Poll.UntilAsync(async () => (await grid.Grains.GetGrain<INodeGrain>(first).GetAsync())!.Allocations.IsEmpty, TimeSpan.FromSeconds(20),
            "the orphan on the first node is released");
        await LeakCheckedAsync(grid, farm);

        // The address stays with the reservation: it is not free, and no other reservation can be given it.
        Assert.Equal(1, await grid.Grains.GetGrain<IFarmGrain>(farm).FreeIpCountAsync());
        var other = await grid.ReserveAsync(twin, resources);
        Assert.NotEqual(address, Assert.Single(other.PublicIps).Ip);
        var held = (await grid.Grains.GetGrain<INodeGrain>(second).GetAsync())!.Allocations.Single(a => a.ReservationId == reservationId);
        Assert.Equal(address, Assert.Single(held.PublicIps).Ip);
    }

    [Fact]
    public async Task AnOrphanRetriedOnItsNodeIsStillReleasedWhenTheNextRetryLandsElsewhere()
    {
        await using var grid = await StartWithQuickChecksAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var first = await grid.RegisterNodeAsync(farm, twin, Machine);
        var second = await grid.RegisterNodeAsync(farm, twin, Machine);

        // A create allocated epoch 1 on node `first`, its reservation write failed (the database out of reach), and
        // its retry chose `first` again (a retry of the same epoch there) and failed the same way...
        var reservationId = GridCluster.NewId();
        var request = new AllocationRequest(reservationId, 1, twin, new Capacity(1, 1L << 30, 0, 0), null, []);
        var node = grid.Grains.GetGrain<INodeGrain>(first);
        await node.TryAllocateAsync(request);
        await node.TryAllocateAsync(request);

        // ...then the next retry landed on the other node, with the same epoch.
        var placed = await grid.Grains.GetGrain<IReservationGrain>(reservationId).CreateAsync(new ReservationRequest(
            twin, request.Resources, PlacementConstraints.None with { NodeId = second }, PlacementStrategy.Binpack));
        Assert.Equal(second, placed.Reservation!.NodeId);

        // The retry on `first` was no confirmation: its orphan check asks again and releases it.
        await grid.AdvanceAsync(TimeSpan.FromSeconds(2), [first, second]);
        await Poll.UntilAsync(async () => (await node.GetAsync())!.Allocations.IsEmpty, TimeSpan.FromSeconds(20), "the orphan on the first node is released");
        Assert.Single((await grid.Grains.GetGrain<INodeGrain>(second).GetAsync())!.Allocations);
    }

    [Fact]
    public async Task AnOrphanAskedAboutWhileItsReservationIsPlacedElsewhereIsReleased()
    {
        await using var grid = await StartWithQuickChecksAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var first = await grid.RegisterNodeAsync(farm, twin, Machine);
        var second = await grid.RegisterNodeAsync(farm, twin, Machine);

        // A create allocated epoch 1 on node `first` and failed before its reservation write.
        var reservationId = GridCluster.NewId();
        var resources = new Capacity(1, 1L << 30, 0, 0);
        var node = grid.Grains.GetGrain<INodeGrain>(first);
        await node.TryAllocateAsync(new AllocationRequest(reservationId, 1, twin, resources, null, []));

        // Its retry places epoch 1 on the other node, and stalls on the way to its record; meanwhile the allocation
        // on `first` grows old enough and that node's orphan check asks the reservation about its epoch 1.
        grid.Stall.Hold("twin-reservations");
        var create = grid.Grains.GetGrain<IReservationGrain>(reservationId).CreateAsync(new ReservationRequest(
            twin, resources, PlacementConstraints.None with { NodeId = second }, PlacementStrategy.Binpack));
        await Poll.UntilAsync(() => Task.FromResult(grid.Stall.Waiting == 1), TimeSpan.FromSeconds(20), "the retry's write of the reservation list is held");
        await grid.AdvanceAsync(TimeSpan.FromSeconds(2), [first, second]);
        grid.Stall.Release();
        Assert.Equal(second, (await create).Reservation!.NodeId);

        // The answer it got was where the placement landed, not "placing": the orphan is released.
        await grid.AdvanceAsync(TimeSpan.FromSeconds(2), [first, second]);
        await Poll.UntilAsync(async () => (await node.GetAsync())!.Allocations.IsEmpty, TimeSpan.FromSeconds(20), "the orphan on the first node is released");
        Assert.Single((await grid.Grains.GetGrain<INodeGrain>(second).GetAsync())!.Allocations);
    }

    [Fact]
    public async Task APlacementWhoseReservationWriteStallsKeepsItsAllocationAndAddress()
    {
        await using var grid = await StartWithQuickChecksAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin, publicIps: 1);
        var nodeId = await grid.RegisterNodeAsync(farm, twin, Machine);
        var reservationId = GridCluster.NewId();

        // The database stalls after the node and the farm wrote theirs, on the tenant's reservation list, which
        // is written before the reservation itself.
        grid.Stall.Hold("twin-reservations");
        var create = grid.Grains.GetGrain<IReservationGrain>(reservationId).CreateAsync(new ReservationRequest(
            twin, new Capacity(1, 1L << 30, 0, 0, 1), PlacementConstraints.None, PlacementStrategy.Binpack));
        await Poll.UntilAsync(() => Task.FromResult(grid.Stall.Waiting == 1), TimeSpan.FromSeconds(20), "the write of the reservation list is held");

        // Meanwhile the node's orphan check and the farm's leak check run several times on entries old enough.
        await grid.AdvanceAsync(TimeSpan.FromSeconds(2), [nodeId]);
        await LeakCheckedAsync(grid, farm);
        grid.Stall.Release();
        var placed = (await create).Reservation!;

        Assert.Equal(ReservationState.Active, placed.State);
        var held = Assert.Single((await grid.Grains.GetGrain<INodeGrain>(nodeId).GetAsync())!.Allocations);
        Assert.Equal(reservationId, held.ReservationId);
        Assert.Equal(placed.PublicIps.Single().Ip, Assert.Single(held.PublicIps).Ip);
        Assert.Equal(0, await grid.Grains.GetGrain<IFarmGrain>(farm).FreeIpCountAsync());
    }

    [Fact]
    public async Task ACancelWhoseWriteFailedLeavesTheReservationAsStoredAndItsRetryReleasesEverything()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin, publicIps: 1);
        var nodeId = await grid.RegisterNodeAsync(farm, twin, Machine);
        var placed = await grid.ReserveAsync(twin, new Capacity(1, 1L << 30, 0, 0, 1));
        var reservation = grid.Grains.GetGrain<IReservationGrain>(placed.ReservationId);

        grid.Stall.Fail("reservation");
        await Assert.ThrowsAsync<OrleansException>(() => reservation.CancelAsync());
        grid.Stall.Release();

        // Not acknowledged, so nothing changed: the reservation still reads active and still holds its capacity.
        Assert.Equal(ReservationState.Active, (await reservation.GetAsync())!.State);
        Assert.Single((await grid.Grains.GetGrain<INodeGrain>(nodeId).GetAsync())!.Allocations);

        Assert.True(await reservation.CancelAsync());
        Assert.Equal(ReservationState.Cancelled, (await reservation.GetAsync())!.State);
        Assert.Empty((await grid.Grains.GetGrain<INodeGrain>(nodeId).GetAsync())!.Allocations);
        Assert.Equal(1, await grid.Grains.GetGrain<IFarmGrain>(farm).FreeIpCountAsync());
    }

    /// <summary>Orphan and leak checks every 200 ms of grid time, so a test sees several.</summary>
    /// <summary>Waits for a leak check of the farm that started at the grid's current time or later (and so saw everything before).</summary>
    private static async Task LeakCheckedAsync(GridCluster grid, long farmId)
    {
        grid.Clock.Advance(TimeSpan.FromMilliseconds(1));
        var now = grid.Clock.GetUtcNow();
        await Poll.UntilAsync(async () => await grid.Grains.GetGrain<IFarmGrain>(farmId).GetLastLeakCheckAsync() >= now, TimeSpan.FromSeconds(20), "the farm's leak check ran");
    }

    private static Task<GridCluster> StartWithQuickChecksAsync() =>
        GridCluster.StartAsync(("Grid:Health:OrphanCheckInterval", "00:00:00.200"));
}
