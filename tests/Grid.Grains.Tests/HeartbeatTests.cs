using Grid.Grains;
using Grid.Testing;

namespace Grid.Grains.Tests;

/// <summary>What a heartbeat answers: the controller's timing, the desired workloads (also when a report cannot be forwarded) and the long-poll.</summary>
public sealed class HeartbeatTests
{
    private static readonly Capacity Machine = new(8, 8L << 30, 0, 0);
    private static readonly Capacity Small = new(1, 1L << 30, 0, 0);

    [Fact]
    public async Task AHeartbeatIsAnsweredWhenAWorkloadReportCannotBeForwarded()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var nodeId = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(twin), twin, Machine);
        var reservation = await grid.ReserveAsync(twin, Small);
        var workloadId = GridCluster.NewId();
        await grid.Grains.GetGrain<IReservationGrain>(reservation.ReservationId)
            .AddWorkloadAsync(workloadId, new WorkloadSpec("vm", WorkloadType.Vm, Capacity.Zero, null));

        grid.Stall.Fail("workload");
        var answer = await grid.BeatAsync(nodeId, new WorkloadReport(workloadId, 1, WorkloadState.Running));
        grid.Stall.Release();

        Assert.Equal(workloadId, Assert.Single(answer.Desired).WorkloadId);
        await grid.BeatAsync(nodeId, new WorkloadReport(workloadId, 1, WorkloadState.Running));
        await Poll.UntilAsync(async () => (await grid.Grains.GetGrain<IWorkloadGrain>(workloadId).GetAsync())!.State == WorkloadState.Running, TimeSpan.FromSeconds(20),
            "the report is forwarded on the next heartbeat");
    }

    [Fact]
    public async Task HeartbeatsCarryTheControllersTimingAndTheLongPollAnswersAChangeAtOnce()
    {
        await using var grid = await GridCluster.StartAsync(("Grid:Health:HeartbeatInterval", "00:00:01"), ("Grid:Health:HeartbeatTimeout", "00:00:04"));
        var twin = GridCluster.NewId();
        var nodeId = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(twin), twin, Machine);
        var reservation = await grid.ReserveAsync(twin, Small);

        var answer = await grid.BeatAsync(nodeId);
        Assert.Equal(1000, answer.HeartbeatIntervalMs);
        Assert.Equal(4000, answer.HeartbeatTimeoutMs);
        var watch = grid.Grains.GetGrain<INodeGrain>(nodeId).WatchDesiredAsync(answer.DesiredVersion, TimeSpan.FromSeconds(20));
        var waited = System.Diagnostics.Stopwatch.StartNew();
        await Poll.StaysAsync(() => !watch.IsCompleted, TimeSpan.FromMilliseconds(100), "the long-poll waits while nothing changed");

        var workloadId = GridCluster.NewId();
        await grid.Grains.GetGrain<IReservationGrain>(reservation.ReservationId)
            .AddWorkloadAsync(workloadId, new WorkloadSpec("vm", WorkloadType.Vm, Capacity.Zero, null));
        var desired = await watch;

        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), $"the long-poll answered after {waited.Elapsed}");
        Assert.NotEqual(answer.DesiredVersion, desired.Version);
        Assert.Equal(workloadId, Assert.Single(desired.Desired).WorkloadId);
    }
}
