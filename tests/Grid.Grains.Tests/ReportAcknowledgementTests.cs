using Grid.Grains;
using Grid.Testing;
using Orleans.Core.Internal;

namespace Grid.Grains.Tests;

/// <summary>
/// Which reports a node grain acknowledges (<see cref="HeartbeatResponse.ReportsAcknowledged"/>): a version whose reports
/// were all taken, every report or a change of the version it acknowledged last; nothing when a report must come again
/// or when its activation does not know the version a change is of. An agent sends only changes after an acknowledgement.
/// </summary>
public sealed class ReportAcknowledgementTests
{
    private static readonly Capacity Machine = new(8, 8L << 30, 0, 0);
    private static readonly Capacity Small = new(1, 1L << 30, 0, 0);

    [Fact]
    public async Task EveryReportThenChangesOfTheAcknowledgedVersionAreAcknowledgedAndAChangeOfAnotherIsNot()
    {
        await using var grid = await GridCluster.StartAsync();
        var (node, first, second) = await TwoWorkloadsAsync(grid);

        var whole = await node.HeartbeatAsync(new Heartbeat(1, [Running(first), Running(second)]) { ReportsVersion = 10 });
        await StateAsync(grid, second, WorkloadState.Running, "every report was forwarded");
        var changed = await node.HeartbeatAsync(new Heartbeat(2, [Running(second) with { State = WorkloadState.Failed, Reason = WorkloadReasons.ExitCode }])
        {
            ReportsVersion = 11,
            ReportsBase = 10,
        });
        await StateAsync(grid, second, WorkloadState.Failed, "the change was forwarded");
        var unchanged = await node.HeartbeatAsync(new Heartbeat(3, []) { ReportsVersion = 11, ReportsBase = 11 });
        var ofAnother = await node.HeartbeatAsync(new Heartbeat(4, [Running(second) with { Restarts = 1 }]) { ReportsVersion = 12, ReportsBase = 7 });
        var old = await node.HeartbeatAsync(new Heartbeat(5, [Running(first), Running(second) with { Restarts = 1 }]));

        Assert.Equal(10, whole.ReportsAcknowledged);
        Assert.Equal(11, changed.ReportsAcknowledged);
        Assert.Equal(11, unchanged.ReportsAcknowledged);
        Assert.Null(ofAnother.ReportsAcknowledged);
        Assert.Null(old.ReportsAcknowledged);
        Assert.Equal(WorkloadState.Running, (await grid.Grains.GetGrain<IWorkloadGrain>(first).GetAsync())!.State);
        Assert.Equal(1, (await grid.Grains.GetGrain<IWorkloadGrain>(second).GetAsync())!.Restarts);
    }

    [Fact]
    public async Task ReportsThatCouldNotBeForwardedAreNotAcknowledgedSoTheyComeAgain()
    {
        await using var grid = await GridCluster.StartAsync();
        var (node, first, second) = await TwoWorkloadsAsync(grid);

        grid.Stall.Fail("workload");
        var unreachable = await node.HeartbeatAsync(new Heartbeat(1, [Running(first), Running(second)]) { ReportsVersion = 1 });
        grid.Stall.Release();
        var again = await node.HeartbeatAsync(new Heartbeat(2, [Running(first), Running(second)]) { ReportsVersion = 2 });

        Assert.Null(unreachable.ReportsAcknowledged);
        Assert.Equal(2, again.ReportsAcknowledged);
        await StateAsync(grid, first, WorkloadState.Running, "the reports sent again were forwarded");
    }

    [Fact]
    public async Task AReportAheadOfItsWorkloadsPlacementIsNotAcknowledged()
    {
        await using var grid = await GridCluster.StartAsync();
        var (node, first, _) = await TwoWorkloadsAsync(grid);

        // The node holds epoch 1 of the workload, but its workload grain already follows another placement: it refuses
        // the report, which must come again (it is taken once the two agree).
        var node1 = (await grid.Grains.GetGrain<IWorkloadGrain>(first).GetAsync())!.NodeId;
        await grid.Grains.GetGrain<IWorkloadGrain>(first).PlacedAsync(node1, 2);
        var answer = await node.HeartbeatAsync(new Heartbeat(1, [Running(first)]) { ReportsVersion = 1 });

        Assert.Null(answer.ReportsAcknowledged);
    }

    [Fact]
    public async Task ANewActivationOfTheNodeDoesNotAcknowledgeAChangeOfAVersionItNeverSaw()
    {
        await using var grid = await GridCluster.StartAsync();
        var (node, first, second) = await TwoWorkloadsAsync(grid);
        Assert.Equal(5, (await node.HeartbeatAsync(new Heartbeat(1, [Running(first), Running(second)]) { ReportsVersion = 5 })).ReportsAcknowledged);

        await node.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        var afterwards = await node.HeartbeatAsync(new Heartbeat(2, []) { ReportsVersion = 5, ReportsBase = 5 });
        var whole = await node.HeartbeatAsync(new Heartbeat(3, [Running(first), Running(second)]) { ReportsVersion = 6 });

        Assert.Null(afterwards.ReportsAcknowledged);
        Assert.Equal(6, whole.ReportsAcknowledged);
    }

    private static WorkloadReport Running(long workloadId) => new(workloadId, 1, WorkloadState.Running);

    private static async Task<(INodeGrain Node, long First, long Second)> TwoWorkloadsAsync(GridCluster grid)
    {
        var twin = GridCluster.NewId();
        var nodeId = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(twin), twin, Machine);
        var reservation = grid.Grains.GetGrain<IReservationGrain>((await grid.ReserveAsync(twin, Small)).ReservationId);
        var (first, second) = (GridCluster.NewId(), GridCluster.NewId());
        await reservation.AddWorkloadAsync(first, new WorkloadSpec("a", WorkloadType.Vm, Capacity.Zero, null));
        await reservation.AddWorkloadAsync(second, new WorkloadSpec("b", WorkloadType.Vm, Capacity.Zero, null));
        return (grid.Grains.GetGrain<INodeGrain>(nodeId), first, second);
    }

    private static Task StateAsync(GridCluster grid, long workloadId, WorkloadState state, string what) =>
        Poll.UntilAsync(async () => (await grid.Grains.GetGrain<IWorkloadGrain>(workloadId).GetAsync())!.State == state, TimeSpan.FromSeconds(20), what);
}
