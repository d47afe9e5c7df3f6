using Grid.Scheduling;
using Grid.Testing;

namespace Grid.Grains.Tests.Scheduling;

/// <summary>
/// A node that starts to fit between the scheduler's pass over the view and its report of why nothing fits (its
/// rejoin delay ending, its summary arriving) is looked at again, not reported as "contended": the quote or the
/// placement takes it. Time moves between the two here by the test clock advancing at every reading of it.
/// </summary>
public sealed class ViewChangedUnderTheSchedulerTests
{
    private static readonly Capacity Machine = new(8, 8L << 30, 0, 0);
    private static readonly Capacity Small = new(1, 1L << 30, 0, 0);

    [Fact]
    public async Task ANodeWhoseRejoinDelayEndsDuringAQuoteIsChosen()
    {
        await using var grid = await GridCluster.StartAsync(("Grid:Health:RejoinAfter", "00:00:01"), ("Grid:Health:HeartbeatTimeout", "00:10:00"));
        var (nodeId, scheduler, request) = await RejoiningNodeAsync(grid);

        // Each reading of the clock is 2 s later than the last: the pass sees the node rejoining, the report sees it up.
        grid.Clock.AutoAdvanceAmount = TimeSpan.FromSeconds(2);
        var (chosen, report) = await scheduler.ChooseAsync(request);
        grid.Clock.AutoAdvanceAmount = TimeSpan.Zero;

        Assert.True(chosen?.NodeId == nodeId, report?.Describe());
    }

    [Fact]
    public async Task ANodeWhoseRejoinDelayEndsDuringAPlacementTakesIt()
    {
        await using var grid = await GridCluster.StartAsync(("Grid:Health:RejoinAfter", "00:00:01"), ("Grid:Health:HeartbeatTimeout", "00:10:00"));
        var (nodeId, scheduler, request) = await RejoiningNodeAsync(grid);

        // A move (epoch 2: no preemption is tried in between), as the scheduler places one reservation.
        grid.Clock.AutoAdvanceAmount = TimeSpan.FromSeconds(2);
        var (placement, report) = await scheduler.PlaceAsync(GridCluster.NewId(), 2, request, []);
        grid.Clock.AutoAdvanceAmount = TimeSpan.Zero;

        Assert.True(placement?.NodeId == nodeId, report?.Describe());
    }

    /// <summary>A node back up after being down, rejoining for another second in the silo's view (the test clock stands still).</summary>
    private static async Task<(long NodeId, ReservationScheduler Scheduler, ReservationRequest Request)> RejoiningNodeAsync(GridCluster grid)
    {
        var twin = GridCluster.NewId();
        var nodeId = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(twin), twin, Machine);
        var node = grid.Grains.GetGrain<INodeGrain>(nodeId);
        await node.MarkDownAsync((await node.GetAsync())!.LastHeartbeat!.Value);
        await grid.BeatAsync(nodeId);
        var scheduler = grid.Service<ReservationScheduler>();
        var request = new ReservationRequest(twin, Small, PlacementConstraints.None, PlacementStrategy.Binpack);
        await Poll.UntilAsync(async () => (await scheduler.ChooseAsync(request)).Report?.Describe().Contains(PlacementFilter.Rejoining) == true,
            TimeSpan.FromSeconds(20), "the silo's view has the node back up, rejoining");
        return (nodeId, scheduler, request);
    }
}
