using Grid.Grains;
using Grid.Testing;

namespace Grid.Grains.Tests;

/// <summary>
/// Node loss: detection by the shard scan, migration with epoch + 1, no overbooking; a heartbeat racing the down
/// decision, a return told only once durable, and moves or releases that failed being finished later.
/// </summary>
public sealed class SelfHealingTests
{
    private static readonly Capacity Machine = new(8, 8L << 30, 0, 0);
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

    [Fact]
    public async Task AHeartbeatArrivingWhileTheDownStatusIsWrittenKeepsTheNodeAndItsReservations()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var nodeId = await grid.RegisterNodeAsync(farm, twin, Machine);
        var reservation = grid.Grains.GetGrain<IReservationGrain>((await grid.ReserveAsync(twin, Small)).ReservationId);
        await grid.RegisterNodeAsync(farm, twin, Machine);
        var node = grid.Grains.GetGrain<INodeGrain>(nodeId);
        var lastBeat = (await node.GetAsync())!.LastHeartbeat!.Value;

        grid.Stall.Hold("node");
        var down = node.MarkDownAsync(lastBeat);
        await Poll.UntilAsync(() => Task.FromResult(grid.Stall.Waiting == 1), TimeSpan.FromSeconds(20), "the down status is being written");
        grid.Clock.Advance(TimeSpan.FromSeconds(1));
        var beat = grid.BeatAsync(nodeId);
        await Poll.UntilAsync(async () => (await node.GetAsync())!.LastHeartbeat > lastBeat, TimeSpan.FromSeconds(20), "the node has the heartbeat");
        grid.Stall.Release();
        await down;
        await beat;

        await Poll.UntilAsync(async () => (await node.GetAsync())!.Status == NodeStatus.Up, TimeSpan.FromSeconds(20), "the node is up");
        await Poll.StaysAsync(async () => await reservation.GetAsync() is { State: ReservationState.Active, Epoch: 1 } r && r.NodeId == nodeId, TimeSpan.FromMilliseconds(1_000),
            "the reservation stays on its live node");
    }

    [Fact]
    public async Task ReservationsHearTheirNodeIsBackOnlyOnceItsReturnIsDurable()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var nodeId = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(twin), twin, Machine);
        var reservation = grid.Grains.GetGrain<IReservationGrain>(
            (await grid.ReserveAsync(twin, Small, PlacementConstraints.None with { NodeId = nodeId })).ReservationId);
        var node = grid.Grains.GetGrain<INodeGrain>(nodeId);
        await node.MarkDownAsync((await node.GetAsync())!.LastHeartbeat!.Value);
        await Poll.UntilAsync(async () => (await reservation.GetAsync())!.State == ReservationState.Lost, TimeSpan.FromSeconds(20), "the pinned reservation is lost");

        grid.Stall.Hold("node");
        var beat = grid.BeatAsync(nodeId);
        await Poll.UntilAsync(() => Task.FromResult(grid.Stall.Waiting == 1), TimeSpan.FromSeconds(20), "the node's return is being written");
        await Poll.StaysAsync(async () => (await reservation.GetAsync())!.State == ReservationState.Lost, TimeSpan.FromMilliseconds(1_000),
            "the reservation is not told before the node's return is durable");
        grid.Stall.Release();
        await beat;

        await Poll.UntilAsync(async () => (await reservation.GetAsync())!.State == ReservationState.Active, TimeSpan.FromSeconds(20), "it is active once the return is written");
    }

    [Fact]
    public async Task MovesThatFailedAfterTheDownDecisionAreFoundAgainAndFinished()
    {
        await using var grid = await GridCluster.StartAsync();
        var (lost, reservations, survivor) = await LostNodeAndSurvivorAsync(grid);

        // The node is declared down while no reservation can store its move: every move of the run fails.
        grid.Stall.Fail("reservation");
        await grid.AdvanceAsync(TimeSpan.FromSeconds(10), [survivor]);
        await Poll.UntilAsync(() => Task.FromResult(grid.Stall.Failed >= reservations.Length), TimeSpan.FromSeconds(20), "every move failed once");
        grid.Stall.Release();

        await Poll.UntilAsync(async () =>
        {
            // Grid time goes on (the shard asks again every 2 s) while the first run may still be ending.
            await grid.AdvanceAsync(TimeSpan.FromMilliseconds(500), [survivor], TimeSpan.FromMilliseconds(500));
            var now = await Task.WhenAll(reservations.Select(r => grid.Grains.GetGrain<IReservationGrain>(r.ReservationId).GetAsync()));
            return now.All(r => r is { State: ReservationState.Active } && r.NodeId == survivor);
        }, TimeSpan.FromSeconds(20), "every reservation is active on the surviving node");

        // The lost node lets go of each once its move is done: the release follows the move (on a busy machine, after
        // the reservation is seen active).
        await Poll.UntilAsync(async () => (await grid.Grains.GetGrain<INodeGrain>(lost).GetAsync())!.Allocations.IsEmpty, TimeSpan.FromSeconds(20),
            "the lost node holds none of them");
    }

    [Fact]
    public async Task ALostNodeWhoseReleasesFailedIsEmptiedByItsNextCheck()
    {
        await using var grid = await GridCluster.StartAsync();
        var (lost, reservations, survivor) = await LostNodeAndSurvivorAsync(grid);

        // The down status is written; every write of the lost node after it fails (its releases, retried too).
        grid.Stall.FailGrain(grid.Grains.GetGrain<INodeGrain>(lost).GetGrainId(), passes: 1);
        await grid.AdvanceAsync(TimeSpan.FromSeconds(10), [survivor]);
        await Poll.UntilAsync(async () => (await Task.WhenAll(reservations.Select(r => grid.Grains.GetGrain<IReservationGrain>(r.ReservationId).GetAsync())))
            .All(r => r is { State: ReservationState.Active } && r.NodeId == survivor), TimeSpan.FromSeconds(20), "every reservation moved to the surviving node");
        // (A failed write deactivates the node grain, so it is not read until its storage is back.)
        await Poll.UntilAsync(() => Task.FromResult(grid.Stall.Failed >= 3), TimeSpan.FromSeconds(20), "the release was tried three times");

        // Storage is back: the shard's next check finds the node down and still holding them, and they are released.
        grid.Stall.Release();
        await Poll.UntilAsync(async () =>
        {
            await grid.AdvanceAsync(TimeSpan.FromMilliseconds(500), [survivor], TimeSpan.FromMilliseconds(500));
            try
            {
                return (await grid.Grains.GetGrain<INodeGrain>(lost).GetAsync())!.Allocations.IsEmpty;
            }
            catch (OrleansException)
            {
                // An activation of the node (by the shard's check) whose write failed just before the release: the
                // next call activates it again with storage back (this read once failed so, in a run of the suite).
                return false;
            }
        }, TimeSpan.FromSeconds(20), "the lost node holds nothing");
        Assert.Equal(reservations.Length, (await grid.Grains.GetGrain<INodeGrain>(survivor).GetAsync())!.Allocations.Length);
    }

    /// <summary>A node holding 20 reservations, registered first so they land there, and a node of the same farm with room for them.</summary>
    private static async Task<(long Lost, ReservationInfo[] Reservations, long Survivor)> LostNodeAndSurvivorAsync(GridCluster grid)
    {
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var lost = await grid.RegisterNodeAsync(farm, twin, new Capacity(32, 32L << 30, 0, 0));
        var reservations = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => grid.ReserveAsync(twin, Small)));
        var survivor = await grid.RegisterNodeAsync(farm, twin, new Capacity(32, 32L << 30, 0, 0));
        return (lost, reservations, survivor);
    }
}
