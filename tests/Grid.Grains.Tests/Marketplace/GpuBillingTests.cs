using Grid.Billing;
using Grid.Ledger;
using Grid.Testing;

namespace Grid.Grains.Tests.Marketplace;

/// <summary>A reservation's GPUs on a bill line of their own, priced per GPU-hour, paid out like every other line.</summary>
public sealed class GpuBillingTests
{
    [Fact]
    public async Task GpusAreBilledPerGpuHourOnTheirOwnLineAndTheFarmerGetsTheShare()
    {
        var ledger = new MemoryLedgerStore();
        await using var grid = await GridCluster.StartAsync(ledger,
            ("Grid:Health:HeartbeatTimeout", "01:00:00"), ("Grid:Billing:TickInterval", "01:00:00"), ("Grid:Billing:GpuPrice", "2000000"));
        var (tenant, farmer) = (GridCluster.NewId(), GridCluster.NewId());
        var farm = await grid.CreateFarmAsync(farmer);
        var node = GridCluster.NewId();
        await grid.Grains.GetGrain<INodeGrain>(node).RegisterAsync(
            new NodeRegistration(farm, farmer, new Capacity(16, 64L << 30, 0, 0), new Location("BE", "Ghent"), NodeCertification.Diy, "hash")
            {
                Gpus = [new GpuDevice("0000:01:00.0", "NVIDIA", "A100", 40960), new GpuDevice("0000:02:00.0", "NVIDIA", "A100", 40960)],
            }, 1.0);
        await grid.BeatAsync(node);
        var id = GridCluster.NewId() * 3600;   // billed on the hour
        var reservation = grid.Grains.GetGrain<IReservationGrain>(id);
        var placed = (await reservation.CreateAsync(new ReservationRequest(tenant, BillingSteps.OneCu with { Gpu = 2 }, PlacementConstraints.None,
            PlacementStrategy.Binpack))).Reservation!;
        Assert.Equal(node, placed.NodeId);
        Assert.Equal(100_000 + (2 * 2_000_000), placed.PricePerHour);   // the hour's whole price: capacity and GPUs

        await grid.AdvanceAsync(TimeSpan.FromMinutes(30), [node], TimeSpan.FromMinutes(1));
        await reservation.CancelAsync();
        await grid.AdvanceAsync(TimeSpan.FromMinutes(32), [node], TimeSpan.FromMinutes(1));   // past the period and the settle delay
        await BillingSteps.TickAsync(grid);

        var bill = Assert.Single(await reservation.GetBillsAsync());
        Assert.Equal([(null, 1800L, 0, 50_000L), (BillLine.GpuKind, 1800L, 2, 2_000_000L)],
            bill.Lines.Select(l => (l.Kind, l.Seconds, l.Gpus, l.Amount)).ToArray());   // 2 GPUs × 2,000,000 × ½ h
        Assert.Equal(2_050_000, bill.Amount);
        Assert.Equal(-2_050_000, (await BillingSteps.Account(grid, tenant)).Balance);
        Assert.Equal(45_000 + 1_800_000, (await BillingSteps.Account(grid, farmer)).Earned);   // 0.9 of each line
        var entry = Assert.Single(await ledger.ReadAsync(1, 10_000), e => e.Kind == LedgerKinds.Bill);
        Assert.Equal(0, entry.Postings.Sum(p => p.Amount));

        // Released with the reservation: both GPUs are free again.
        var info = (await grid.Grains.GetGrain<INodeGrain>(node).GetAsync())!;
        Assert.All(info.Gpus, g => Assert.Null(g.ReservationId));
    }
}
