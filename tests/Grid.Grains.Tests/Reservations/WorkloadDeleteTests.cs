namespace Grid.Grains.Tests.Reservations;

/// <summary>Deleting a workload goes through its reservation, as a cancel does for all of them.</summary>
public sealed class WorkloadDeleteTests
{
    private static readonly Capacity Machine = new(8, 16L << 30, 0, 0);

    [Fact]
    public async Task TheReservationLetsGoOfTheWorkloadThenTheWorkloadIsDeletedOnce()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var nodeId = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(twin), twin, Machine);
        var reservation = grid.Grains.GetGrain<IReservationGrain>((await grid.ReserveAsync(twin, new Capacity(2, 2L << 30, 0, 0))).ReservationId);
        var (kept, deleted) = (GridCluster.NewId(), GridCluster.NewId());
        await reservation.AddWorkloadAsync(kept, new WorkloadSpec("web", WorkloadType.Vm, new Capacity(1, 1L << 30, 0, 0), null));
        await reservation.AddWorkloadAsync(deleted, new WorkloadSpec("db", WorkloadType.Zdb, Capacity.Zero, null));

        await reservation.DeleteWorkloadAsync(deleted);
        await reservation.DeleteWorkloadAsync(deleted);

        Assert.Equal(kept, Assert.Single((await reservation.GetAsync())!.WorkloadIds));
        Assert.Equal(WorkloadState.Deleted, (await grid.Grains.GetGrain<IWorkloadGrain>(deleted).GetAsync())!.State);
        Assert.NotEqual(WorkloadState.Deleted, (await grid.Grains.GetGrain<IWorkloadGrain>(kept).GetAsync())!.State);
        Assert.Equal(kept, Assert.Single((await grid.BeatAsync(nodeId)).Desired).WorkloadId);
        var removed = Assert.Single(await reservation.GetEventsAsync(), e => e.Kind == "workload-removed");
        Assert.Contains(deleted.ToString(System.Globalization.CultureInfo.InvariantCulture), removed.Message, StringComparison.Ordinal);
    }
}
