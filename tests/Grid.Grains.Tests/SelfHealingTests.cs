using Grid.Grains;
using Grid.Testing;

namespace Grid.Grains.Tests;

/// <summary>Node loss: detection by the shard scan, migration with epoch + 1, no overbooking.</summary>
public sealed class SelfHealingTests
{
    private static readonly Capacity Small = new(1, 1L << 30, 0, 0);

    [Fact]
    public async Task ThousandReservationsOfASilentNodeAreActiveElsewhereWithEpochTwo()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var lost = await grid.RegisterNodeAsync(farm, twin, new Capacity(1000, 1000L << 30, 0, 0));
        var reservations = new List<ReservationInfo>();
        foreach (var batch in Enumerable.Range(0, 1000).Chunk(100))
        {
            reservations.AddRange(await Task.WhenAll(batch.Select(_ => grid.ReserveAsync(twin, Small))));
        }

        Assert.All(reservations, r => Assert.Equal(lost, r.NodeId));
        var survivors = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            survivors.Add(await grid.RegisterNodeAsync(farm, twin, new Capacity(300, 300L << 30, 0, 0)));
        }

        await grid.AdvanceAsync(TimeSpan.FromSeconds(10), survivors);

        await Poll.UntilAsync(async () =>
        {
            var now = await Task.WhenAll(reservations.Select(r => grid.Grains.GetGrain<IReservationGrain>(r.ReservationId).GetAsync()));
            return now.All(r => r!.State == ReservationState.Active && r.Epoch == 2 && r.NodeId != lost);
        }, TimeSpan.FromSeconds(20), "all 1000 reservations are active elsewhere");
        var lostNode = (await grid.Grains.GetGrain<INodeGrain>(lost).GetAsync())!;
        Assert.Equal(NodeStatus.Down, lostNode.Status);
        Assert.Empty(lostNode.Allocations);
        var held = 0;
        foreach (var id in survivors)
        {
            var node = (await grid.Grains.GetGrain<INodeGrain>(id).GetAsync())!;
            Assert.True(node.Total.Covers(node.Used), $"node {id} is overbooked: {node.Used} of {node.Total}");
            Assert.All(node.Allocations, a => Assert.Equal(2, a.Epoch));
            held += node.Allocations.Length;
        }

        Assert.Equal(1000, held);
        var events = await grid.Grains.GetGrain<IReservationGrain>(reservations[0].ReservationId).GetEventsAsync();
        Assert.Equal(["placed", "moved"], events.Select(e => e.Kind).ToArray());
    }

    [Fact]
    public async Task PinnedReservationIsLostWhileItsNodeIsDownAndActiveWhenItReturns()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var pinned = await grid.RegisterNodeAsync(farm, twin, new Capacity(8, 8L << 30, 0, 0));
        var other = await grid.RegisterNodeAsync(farm, twin, new Capacity(8, 8L << 30, 0, 0));
        var reservation = await grid.ReserveAsync(twin, Small, PlacementConstraints.None with { NodeId = pinned });
        var grain = grid.Grains.GetGrain<IReservationGrain>(reservation.ReservationId);

        await grid.AdvanceAsync(TimeSpan.FromSeconds(10), [other]);
        await Poll.UntilAsync(async () => (await grain.GetAsync())!.State == ReservationState.Lost, TimeSpan.FromSeconds(20), "the pinned reservation is lost");

        await grid.BeatAsync(pinned);
        await Poll.UntilAsync(async () => (await grain.GetAsync())!.State == ReservationState.Active, TimeSpan.FromSeconds(20), "it is active again");
        Assert.Equal(pinned, (await grain.GetAsync())!.NodeId);
        Assert.Equal(1, (await grain.GetAsync())!.Epoch);
    }

    [Fact]
    public async Task UnschedulableReservationIsPlacedOnceCapacityAppears()
    {
        await using var grid = await GridCluster.StartAsync(("Grid:Health:RetryBackoff", "00:00:00.100"));
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var lost = await grid.RegisterNodeAsync(farm, twin, new Capacity(8, 8L << 30, 0, 0));
        var reservation = await grid.ReserveAsync(twin, Small);
        var grain = grid.Grains.GetGrain<IReservationGrain>(reservation.ReservationId);

        await grid.AdvanceAsync(TimeSpan.FromSeconds(10), []);
        await Poll.UntilAsync(async () => (await grain.GetAsync())!.State == ReservationState.Unschedulable, TimeSpan.FromSeconds(20), "it is unschedulable");
        var fresh = await grid.RegisterNodeAsync(farm, twin, new Capacity(8, 8L << 30, 0, 0));

        await Poll.UntilAsync(async () => (await grain.GetAsync()) is { State: ReservationState.Active } r && r.NodeId == fresh, TimeSpan.FromSeconds(20), "it is placed on the new node");
        var events = (await grain.GetEventsAsync()).Select(e => e.Kind).ToList();
        Assert.Contains("unschedulable", events);
        Assert.Equal("moved", events[^1]);
        Assert.Contains("no other node fits", (await grain.GetEventsAsync()).First(e => e.Kind == "unschedulable").Message);
    }

    [Fact]
    public async Task ANodeThatHeartbeatsIsNeverDeclaredDown()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var node = await grid.RegisterNodeAsync(farm, twin, new Capacity(8, 8L << 30, 0, 0));

        await grid.AdvanceAsync(TimeSpan.FromSeconds(60), [node], TimeSpan.FromSeconds(3));
        await grid.ScannedAsync();

        Assert.Equal(NodeStatus.Up, (await grid.Grains.GetGrain<INodeGrain>(node).GetAsync())!.Status);
    }
}
