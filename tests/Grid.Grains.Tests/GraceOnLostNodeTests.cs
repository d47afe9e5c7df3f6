using Grid.Testing;
namespace Grid.Grains.Tests;

/// <summary>A reservation in grace whose node goes down and comes back stays in grace until a deposit covers it.</summary>
[Collection(PrepaidCollection.Name)]
public sealed class GraceOnLostNodeTests
{
    private const long Gib = 1L << 30;

    [Fact]
    public async Task APinnedReservationInGraceIsNotActivatedUnpaidByItsNodesReturn()
    {
        await using var grid = await GridCluster.StartAsync(
            ("Grid:Billing:Mode", "prepaid"), ("Grid:Billing:GracePeriod", "1.00:00:00"),
            ("Grid:Health:HeartbeatTimeout", "00:02:00"), ("Grid:Billing:TickInterval", "01:00:00"));
        var (tenant, farmer) = (GridCluster.NewId(), GridCluster.NewId());
        var node = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(farmer), farmer, new Capacity(16, 64 * Gib, 0, 0));
        await PrepaidTests.DepositAsync(grid, tenant, "first", 150_000);
        var id = GridCluster.NewId() * 3600;   // billed on the hour
        var reservation = grid.Grains.GetGrain<IReservationGrain>(id);
        var pinned = PlacementConstraints.None with { NodeId = node };
        Assert.NotNull((await reservation.CreateAsync(new ReservationRequest(tenant, BillingSteps.OneCu, pinned, PlacementStrategy.Binpack))).Reservation);

        // 12:00-13:00 paid, 13:00-14:00 not: grace.
        await grid.AdvanceAsync(TimeSpan.FromMinutes(62), [node], TimeSpan.FromMinutes(1));
        await BillingSteps.TickAsync(grid);
        await grid.AdvanceAsync(TimeSpan.FromMinutes(60), [node], TimeSpan.FromMinutes(1));
        await BillingSteps.TickAsync(grid);
        Assert.Equal(ReservationState.Grace, (await reservation.GetAsync())!.State);

        // The node goes down and comes back: still in grace, nothing served meanwhile.
        await grid.AdvanceAsync(TimeSpan.FromMinutes(3), [], TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(async () => (await grid.Grains.GetGrain<INodeGrain>(node).GetAsync())!.Status == NodeStatus.Down, TimeSpan.FromSeconds(20), "the node is down");
        await Poll.StaysAsync(async () => (await reservation.GetAsync())!.State == ReservationState.Grace, TimeSpan.FromMilliseconds(1_000), "in grace while its node is down");
        await grid.BeatAsync(node);
        await Poll.StaysAsync(async () => (await reservation.GetAsync())!.State == ReservationState.Grace, TimeSpan.FromMilliseconds(1_000), "in grace after its node returned");
        await grid.AdvanceAsync(TimeSpan.FromMinutes(60), [node], TimeSpan.FromMinutes(1));
        await BillingSteps.TickAsync(grid);
        Assert.Equal(ReservationState.Grace, (await reservation.GetAsync())!.State);
        Assert.Equal(2 * 60, (await reservation.GetBillsAsync())[0].Lines.Sum(l => l.Seconds));   // 14:00-14:02, before grace

        await PrepaidTests.DepositAsync(grid, tenant, "second", 60_000);
        Assert.Equal(ReservationState.Active, (await reservation.GetAsync())!.State);
    }
}
