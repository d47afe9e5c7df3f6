using Grid.Grains;
using Grid.Testing;

namespace Grid.Grains.Tests;

/// <summary>The node's allocations and the farm's IPv4 pool, called directly as the scheduler and reservations do.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class AllocationTests(SharedCluster cluster)
{
    private static readonly Capacity One = new(1, 1L << 30, 0, 0);
    private readonly GridCluster _grid = cluster.Grid;

    [Fact]
    public async Task AllocationIsIdempotentPerEpochAndANewerEpochReplacesTheOlder()
    {
        var twin = GridCluster.NewId();
        var farm = await _grid.CreateFarmAsync(twin);
        var node = _grid.Grains.GetGrain<INodeGrain>(await _grid.RegisterNodeAsync(farm, twin, new Capacity(2, 2L << 30, 0, 0)));
        var reservation = GridCluster.NewId();

        Assert.Equal(AllocationOutcome.Allocated, (await node.TryAllocateAsync(Request(reservation, 1))).Outcome);
        Assert.Equal(AllocationOutcome.Allocated, (await node.TryAllocateAsync(Request(reservation, 1))).Outcome);
        Assert.Equal(AllocationOutcome.Allocated, (await node.TryAllocateAsync(Request(reservation, 2))).Outcome);
        var info = (await node.GetAsync())!;
        Assert.Equal(One, info.Used);
        Assert.Equal(2, Assert.Single(info.Allocations).Epoch);

        await node.ReleaseAsync(reservation, 1);
        Assert.Single((await node.GetAsync())!.Allocations);
        await node.ReleaseAsync(reservation, 2);
        Assert.Empty((await node.GetAsync())!.Allocations);
    }

    [Fact]
    public async Task ConcurrentAllocationsNeverExceedTheNode()
    {
        var twin = GridCluster.NewId();
        var farm = await _grid.CreateFarmAsync(twin);
        var node = _grid.Grains.GetGrain<INodeGrain>(await _grid.RegisterNodeAsync(farm, twin, new Capacity(100, 7L << 30, 0, 0)));

        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => node.TryAllocateAsync(Request(GridCluster.NewId(), 1))));

        Assert.Equal(7, results.Count(r => r.Outcome == AllocationOutcome.Allocated));
        Assert.All(results.Where(r => r.Outcome != AllocationOutcome.Allocated), r => Assert.Equal(CapacityUnit.Mru, r.Shortfall));
        Assert.Equal(7L << 30, (await node.GetAsync())!.Used.Mru);
    }

    [Fact]
    public async Task AnAddressIsHeldByOneReservationAndFollowsItWithinTheFarm()
    {
        var twin = GridCluster.NewId();
        var farm = _grid.Grains.GetGrain<IFarmGrain>(await _grid.CreateFarmAsync(twin, publicIps: 5));
        var reservations = Enumerable.Range(0, 10).Select(_ => GridCluster.NewId()).ToList();

        var given = await Task.WhenAll(reservations.Select(r => farm.AllocateIpsAsync(r, 1, 1)));

        var addresses = given.Where(g => g is not null).SelectMany(g => g!.Value).Select(ip => ip.Ip).ToList();
        Assert.Equal(5, addresses.Count);
        Assert.Equal(5, addresses.Distinct().Count());
        var holder = reservations[Array.FindIndex(given, g => g is not null)];
        var before = (await farm.AllocateIpsAsync(holder, 1, 1))!.Value.Single().Ip;
        var moved = (await farm.AllocateIpsAsync(holder, 2, 1))!.Value.Single();
        Assert.Equal(before, moved.Ip);
        Assert.Equal(2, moved.Epoch);
        await farm.ReleaseIpsAsync(holder, 1);
        Assert.Equal(0, await farm.FreeIpCountAsync());
        await farm.ReleaseIpsAsync(holder, 2);
        Assert.Equal(1, await farm.FreeIpCountAsync());
    }

    [Fact]
    public async Task StaleEpochReportsAreFencedOff()
    {
        var twin = GridCluster.NewId();
        var farm = await _grid.CreateFarmAsync(twin);
        var nodeId = await _grid.RegisterNodeAsync(farm, twin, new Capacity(8, 8L << 30, 0, 0));
        var reservation = await _grid.ReserveAsync(twin, One, PlacementConstraints.None with { NodeId = nodeId });
        var workloadId = GridCluster.NewId();
        await _grid.Grains.GetGrain<IReservationGrain>(reservation.ReservationId)
            .AddWorkloadAsync(workloadId, new WorkloadSpec("w", WorkloadType.Vm, Capacity.Zero, null));
        var workload = _grid.Grains.GetGrain<IWorkloadGrain>(workloadId);

        var answer = await _grid.BeatAsync(nodeId, new WorkloadReport(workloadId, 0, WorkloadState.Running), new WorkloadReport(GridCluster.NewId(), 1, WorkloadState.Running));
        await workload.ReportAsync(nodeId + 1, new WorkloadReport(workloadId, 1, WorkloadState.Failed));

        Assert.Equal(WorkloadState.Deploying, (await workload.GetAsync())!.State);
        var desired = Assert.Single(answer.Desired);
        Assert.Equal((workloadId, 1L), (desired.WorkloadId, desired.Epoch));
        await _grid.BeatAsync(nodeId, new WorkloadReport(workloadId, 1, WorkloadState.Running));
        await Poll.UntilAsync(async () => (await workload.GetAsync())!.State == WorkloadState.Running, TimeSpan.FromSeconds(20), "the current epoch's report counts");
    }

    [Fact]
    public async Task TryAllocateOnANodeThatWasNeverRegisteredRefuses()
    {
        var result = await _grid.Grains.GetGrain<INodeGrain>(GridCluster.NewId())
            .TryAllocateAsync(new AllocationRequest(GridCluster.NewId(), 1, 1, One, null, []));

        Assert.Equal(AllocationOutcome.NodeNotAvailable, result.Outcome);
        Assert.Null(result.Summary);
    }

    private static AllocationRequest Request(long reservationId, long epoch) =>
        new(reservationId, epoch, 1, One, null, []);
}
