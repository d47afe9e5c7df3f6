using Grid.Grains;
using Grid.Scheduling;
using Grid.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Grid.Grains.Tests;

/// <summary>Self-healing defects found in review: each test fails without its fix.</summary>
public sealed class HealingReviewTests
{
    private static readonly Capacity Machine = new(8, 8L << 30, 0, 0);
    private static readonly Capacity Small = new(1, 1L << 30, 0, 0);

    [Fact]
    public async Task TryAllocateOnANodeThatWasNeverRegisteredRefuses()
    {
        await using var grid = await GridCluster.StartAsync();

        var result = await grid.Grains.GetGrain<INodeGrain>(GridCluster.NewId())
            .TryAllocateAsync(new AllocationRequest(GridCluster.NewId(), 1, 1, Small, null, []));

        Assert.Equal(AllocationOutcome.NodeNotAvailable, result.Outcome);
        Assert.Null(result.Summary);
    }

    [Fact]
    public async Task SummaryVersionsGrowAcrossActivationsWhateverTheHostsClock()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var node = grid.Grains.GetGrain<INodeGrain>(await grid.RegisterNodeAsync(await grid.CreateFarmAsync(twin), twin, Machine));
        var before = (await node.GetSummaryAsync())!.Version;

        // A failed write drops the activation; the next call activates the node again (on any silo, any clock).
        grid.Stall.Fail("node");
        await Assert.ThrowsAnyAsync<Exception>(() => node.SetDrainingAsync(true, 1));
        grid.Stall.Release();
        var after = (await node.GetSummaryAsync())!.Version;

        Assert.True(after > before, $"version {after} after re-activation is not above {before}");
        // Not derived from the hosting silo's wall clock (ticks are ~6e17): a silo whose clock is behind would
        // otherwise publish versions every view and shard ignores.
        Assert.True(after < 1L << 48, $"version {after} looks like clock ticks");
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
        Assert.Empty((await grid.Grains.GetGrain<INodeGrain>(lost).GetAsync())!.Allocations);
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
            return (await grid.Grains.GetGrain<INodeGrain>(lost).GetAsync())!.Allocations.IsEmpty;
        }, TimeSpan.FromSeconds(20), "the lost node holds nothing");
        Assert.Equal(reservations.Length, (await grid.Grains.GetGrain<INodeGrain>(survivor).GetAsync())!.Allocations.Length);
    }

    [Fact]
    public async Task AFarmAndANodeWhoseRegistrationFailedHalfWayAreListedOnceTheFlowIsRetried()
    {
        await using var grid = await GridCluster.StartAsync();
        var twinId = GridCluster.NewId();
        var twin = grid.Grains.GetGrain<ITwinGrain>(twinId);
        var farmId = GridCluster.NewId();
        var spec = new FarmSpec("farm", FarmCertification.NotCertified, [], 1.0);

        // The farm's own write fails after the owner listed it; the retry on the same id completes the flow.
        grid.Stall.Fail("farm");
        await Assert.ThrowsAnyAsync<Exception>(() => twin.CreateFarmAsync(farmId, spec));
        grid.Stall.Release();
        await twin.CreateFarmAsync(farmId, spec);
        await twin.CreateFarmAsync(farmId, spec);

        Assert.Equal(new[] { farmId }, await twin.GetFarmIdsAsync());
        Assert.NotNull(await grid.Grains.GetGrain<IFarmGrain>(farmId).GetAsync());

        var nodeId = GridCluster.NewId();
        var registration = new NodeRegistration(farmId, twinId, Machine, new Location("BE", "Ghent"), NodeCertification.Diy, "hash");
        var farm = grid.Grains.GetGrain<IFarmGrain>(farmId);
        grid.Stall.Fail("node");
        await Assert.ThrowsAnyAsync<Exception>(() => farm.RegisterNodeAsync(nodeId, registration));
        grid.Stall.Release();
        await farm.RegisterNodeAsync(nodeId, registration);
        var node = await farm.RegisterNodeAsync(nodeId, registration);

        Assert.Equal(nodeId, node.NodeId);
        Assert.Equal(new[] { nodeId }, (await farm.GetAsync())!.NodeIds);
    }

    [Fact]
    public async Task TheMassFailureBrakeCountsLossesReportedByEverySilo()
    {
        await using var grid = await GridCluster.StartAsync(2);
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        for (var i = 0; i < 4; i++)
        {
            await grid.RegisterNodeAsync(farm, twin, Machine, country: "XC");
        }

        var silos = grid.Cluster.Silos.Cast<InProcessSiloHandle>().Select(s => s.SiloHost.Services).ToList();
        Assert.Equal(2, silos.Count);
        await Poll.UntilAsync(() => Task.FromResult(silos.All(s => s.GetRequiredService<CapacityView>().Nodes.Count(n => n.FarmId == farm) == 4)), TimeSpan.FromSeconds(20),
            "both silos see the farm's four nodes");
        var (first, second) = (silos[0].GetRequiredService<MassFailureBrake>(), silos[1].GetRequiredService<MassFailureBrake>());

        // Three of four nodes lost, counted in two silos (2 + 1): above the 0.5 share only when counted together.
        await first.RecordDownAsync(farm, "XC");
        await first.RecordDownAsync(farm, "XC");
        await second.RecordDownAsync(farm, "XC");

        Assert.Contains($"farm:{farm}", await first.GetEngagedAsync());
        Assert.Contains($"farm:{farm}", await second.GetEngagedAsync());
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
