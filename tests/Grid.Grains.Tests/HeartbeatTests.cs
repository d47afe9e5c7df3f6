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

    [Fact]
    public async Task AHeartbeatHoldingTheCurrentVersionIsAnsweredUnchangedUntilTheWorkloadsChange()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var nodeId = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(twin), twin, Machine);
        var reservation = grid.Grains.GetGrain<IReservationGrain>((await grid.ReserveAsync(twin, Small)).ReservationId);
        var first = GridCluster.NewId();
        await reservation.AddWorkloadAsync(first, new WorkloadSpec("vm", WorkloadType.Vm, Capacity.Zero, null));
        var node = grid.Grains.GetGrain<INodeGrain>(nodeId);

        var whole = await node.HeartbeatAsync(new Heartbeat(1, [new WorkloadReport(first, 1, WorkloadState.Running)]));
        var held = await node.HeartbeatAsync(new Heartbeat(2, [new WorkloadReport(first, 1, WorkloadState.Running)]) { DesiredVersion = whole.DesiredVersion });
        var notHeld = await node.HeartbeatAsync(new Heartbeat(3, []) { DesiredVersion = whole.DesiredVersion - 1 });

        Assert.False(whole.DesiredUnchanged);
        Assert.Equal(first, Assert.Single(whole.Desired).WorkloadId);
        Assert.True(held.DesiredUnchanged);
        Assert.Empty(held.Desired);
        Assert.Equal(whole.DesiredVersion, held.DesiredVersion);
        Assert.False(notHeld.DesiredUnchanged);
        Assert.Equal(first, Assert.Single(notHeld.Desired).WorkloadId);

        var second = GridCluster.NewId();
        await reservation.AddWorkloadAsync(second, new WorkloadSpec("vm2", WorkloadType.Vm, Capacity.Zero, null));
        var changed = await node.HeartbeatAsync(new Heartbeat(4, []) { DesiredVersion = whole.DesiredVersion });

        Assert.False(changed.DesiredUnchanged);
        Assert.True(changed.DesiredVersion > whole.DesiredVersion);
        Assert.Equal(new[] { first, second }.Order(), changed.Desired.Select(w => w.WorkloadId).Order());
    }
}
