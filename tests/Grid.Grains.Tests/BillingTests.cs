using Grid.Billing;
using Grid.Ledger;
using Grid.Testing;

namespace Grid.Grains.Tests;

/// <summary>Metering, bills and payouts with grid time driven by the test.</summary>
public sealed class BillingTests
{
    private const long Gib = 1L << 30;

    [Fact]
    public async Task ANodeSilentFor20MinutesIsBilledToItsLastHeartbeatAndTheNewNodeFromItsPlacement()
    {
        var ledger = new MemoryLedgerStore();
        await using var grid = await GridCluster.StartAsync(ledger,
            ("Grid:Health:HeartbeatTimeout", "00:20:00"), ("Grid:Billing:TickInterval", "01:00:00"));
        var (tenant, farmerA, farmerB) = (GridCluster.NewId(), GridCluster.NewId(), GridCluster.NewId());
        var a = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(farmerA), farmerA, BillingSteps.OneCu);
        var b = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(farmerB), farmerB, new Capacity(16, 64 * Gib, 0, 0));
        // An id that is a multiple of 3600 s is billed on the hour: one bill covers 12:00-13:00.
        var id = GridCluster.NewId() * 3600;
        var reservation = grid.Grains.GetGrain<IReservationGrain>(id);
        var placed = (await reservation.CreateAsync(new ReservationRequest(tenant, BillingSteps.OneCu, PlacementConstraints.None, PlacementStrategy.Binpack))).Reservation!;
        Assert.Equal(a, placed.NodeId);
        Assert.Equal(100_000, placed.PricePerHour);

        await grid.AdvanceAsync(TimeSpan.FromMinutes(30), [a, b], TimeSpan.FromSeconds(10));   // a's last heartbeat: 12:30:00
        await grid.AdvanceAsync(TimeSpan.FromMinutes(20).Add(TimeSpan.FromSeconds(10)), [b], TimeSpan.FromSeconds(10));
        await Poll.UntilAsync(async () => (await reservation.GetAsync())!.NodeId == b, TimeSpan.FromSeconds(20), "the reservation moved to b");
        var movedAt = (await reservation.GetEventsAsync()).Single(e => e.Kind == "moved").At;
        Assert.Equal(BillingSteps.Noon.AddMinutes(50).AddSeconds(10), movedAt);

        await grid.AdvanceAsync(TimeSpan.FromMinutes(11), [b], TimeSpan.FromSeconds(10));      // 13:01:10, past the settle delay
        await BillingSteps.TickAsync(grid);
        await BillingSteps.TickAsync(grid);   // a replayed tick bills nothing twice

        var bill = Assert.Single(await reservation.GetBillsAsync());
        Assert.Equal(($"bill:{id}:1", BillingSteps.Noon, BillingSteps.Noon.AddHours(1)), (bill.BillId, bill.From, bill.To));
        Assert.Equal([(a, 1800L, 50_000L), (b, 590L, 16_388L)], bill.Lines.Select(l => (l.NodeId, l.Seconds, l.Amount)).ToArray());
        Assert.Equal(66_388, bill.Amount);
        Assert.Equal(-66_388, (await BillingSteps.Account(grid, tenant)).Balance);
        Assert.Equal(66_388, (await BillingSteps.Account(grid, tenant)).Spent);
        Assert.Equal(45_000, (await BillingSteps.Account(grid, farmerA)).Earned);        // floor(50,000 × 0.9)
        Assert.Equal(14_749, (await BillingSteps.Account(grid, farmerB)).Earned);        // floor(16,388 × 0.9)
        Assert.Equal(6_639, (await BillingSteps.Account(grid, Money.GridAccountId)).Balance);

        var entries = await ledger.ReadAsync(1, 10_000);
        var billEntry = Assert.Single(entries, e => e.Kind == LedgerKinds.Bill);
        Assert.Equal(0, billEntry.Postings.Sum(p => p.Amount));
        var moved = Assert.Single(entries, e => e.Kind == BillingEvents.ReservationMoved);
        Assert.Contains("\"repriced\":true", moved.Details, StringComparison.Ordinal);
        Assert.Single(entries, e => e.Kind == BillingEvents.ReservationPlaced && e.EventId == $"reservation:{id}:placed:1");
    }

    [Fact]
    public async Task ABillWhoseCursorWriteFailedIsAdoptedFromTheLedgerNeitherTwiceNorSkipped()
    {
        var ledger = new MemoryLedgerStore();
        await using var grid = await GridCluster.StartAsync(ledger,
            ("Grid:Health:HeartbeatTimeout", "01:00:00"), ("Grid:Billing:TickInterval", "01:00:00"));
        var (tenant, farmer) = (GridCluster.NewId(), GridCluster.NewId());
        var node = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(farmer), farmer, new Capacity(16, 64 * Gib, 0, 0));
        var id = (GridCluster.NewId() * 3600) + 600;   // billed at ten past the hour
        var reservation = grid.Grains.GetGrain<IReservationGrain>(id);
        await reservation.CreateAsync(new ReservationRequest(tenant, BillingSteps.OneCu, PlacementConstraints.None, PlacementStrategy.Binpack));

        await grid.AdvanceAsync(TimeSpan.FromMinutes(12), [node], TimeSpan.FromMinutes(1));
        grid.Stall.Fail("reservation");   // the ledger append succeeds, the cursor write after it does not (a crash)
        await BillingSteps.TickAsync(grid);
        grid.Stall.Release();
        Assert.Single(await ledger.ReadAsync(1, 10_000), e => e.Kind == LedgerKinds.Bill);

        await grid.AdvanceAsync(TimeSpan.FromHours(1), [node], TimeSpan.FromMinutes(1));   // 13:12
        await BillingSteps.TickAsync(grid);
        await BillingSteps.TickAsync(grid);

        var bills = await reservation.GetBillsAsync();
        Assert.Equal([2L, 1L], bills.Select(b => b.Sequence).ToArray());
        Assert.Equal((BillingSteps.Noon, BillingSteps.Noon.AddMinutes(10), 600L), (bills[1].From, bills[1].To, bills[1].Lines.Sum(l => l.Seconds)));
        Assert.Equal((BillingSteps.Noon.AddMinutes(10), BillingSteps.Noon.AddMinutes(70), 3600L), (bills[0].From, bills[0].To, bills[0].Lines.Sum(l => l.Seconds)));
        var billEntries = (await ledger.ReadAsync(1, 10_000)).Where(e => e.Kind == LedgerKinds.Bill).ToList();
        Assert.Equal([$"bill:{id}:1", $"bill:{id}:2"], billEntries.Select(e => e.EventId).ToArray());
        Assert.Equal(-(bills[0].Amount + bills[1].Amount), (await BillingSteps.Account(grid, tenant)).Balance);

        // Cancel: the final bill covers up to the cancel, then nothing more is billed.
        await grid.AdvanceAsync(TimeSpan.FromMinutes(15), [node], TimeSpan.FromMinutes(1));  // 13:27
        await reservation.CancelAsync();
        await grid.AdvanceAsync(TimeSpan.FromHours(2), [node], TimeSpan.FromMinutes(5));
        await BillingSteps.TickAsync(grid);
        var final = (await reservation.GetBillsAsync())[0];
        Assert.Equal((3L, BillingSteps.Noon.AddMinutes(70), BillingSteps.Noon.AddMinutes(87), 1020L), (final.Sequence, final.From, final.To, final.Lines.Sum(l => l.Seconds)));
        Assert.Equal(3, (await ledger.ReadAsync(1, 10_000)).Count(e => e.Kind == LedgerKinds.Bill));
        Assert.Single(await ledger.ReadAsync(1, 10_000), e => e.EventId == $"reservation:{id}:cancelled");
    }
}

/// <summary>A reservation that fails to bill at every tick: retried alone, while the shard's window moves on for the others.</summary>
public sealed class BillingRetryTests
{
    [Fact]
    public async Task AReservationThatAlwaysFailsIsAskedAgainAloneAndTheOthersOncePerBoundary()
    {
        await using var grid = await GridCluster.StartAsync(
            ("Grid:Health:HeartbeatTimeout", "01:00:00"), ("Grid:Billing:TickInterval", "01:00:00"));
        var (tenant, farmer) = (GridCluster.NewId(), GridCluster.NewId());
        var node = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(farmer), farmer, new Capacity(16, 64L << 30, 0, 0));
        await BillingSteps.TickAsync(grid);   // the shards' cursors start at noon, as in any running grid

        // The failing one bills at :05 past each hour; the healthy one between :09 and :19, in the same billing shard
        // (a shard's window is what a failure held open).
        var options = new BillingOptions();
        var hour = GridCluster.NewId() * 3600;
        var failing = hour + 300;
        var healthy = Enumerable.Range(541, 598).Select(offset => hour + offset)
            .First(id => options.ShardOfBucket(options.BucketOf(id)) == options.ShardOfBucket(options.BucketOf(failing)));
        var boundary = BillingSteps.Noon.AddSeconds(healthy - hour);
        foreach (var id in new[] { failing, healthy })
        {
            var created = await grid.Grains.GetGrain<IReservationGrain>(id).CreateAsync(
                new ReservationRequest(tenant, BillingSteps.OneCu, PlacementConstraints.None, PlacementStrategy.Binpack));
            Assert.NotNull(created.Reservation);
        }

        grid.Drop.Fail(nameof(IReservationGrain.BillDueAsync), grid.Grains.IdOf<IReservationGrain>(failing));
        var asked = new List<int>();
        for (var step = 0; step < 8; step++)
        {
            await grid.AdvanceAsync(TimeSpan.FromMinutes(10), [node], TimeSpan.FromMinutes(1));   // 12:10 … 13:20
            asked.Add(await BillingSteps.TickAsync(grid));
        }

        // 12:10 the failing one is due and fails; from then on it is asked at every tick, and the healthy one only
        // in the ticks its boundary falls in (12:20, 13:20): holding the window open re-asked it at every tick.
        Assert.Equal([1, 2, 1, 1, 1, 1, 1, 2], asked);
        var bills = await grid.Grains.GetGrain<IReservationGrain>(healthy).GetBillsAsync();
        Assert.Equal([(BillingSteps.Noon, boundary), (boundary, boundary.AddHours(1))],
            bills.OrderBy(b => b.Sequence).Select(b => (b.From, b.To)).ToArray());

        // Once it can bill again, one tick settles everything it owes, and it is no longer asked every tick.
        grid.Drop.StopFailing();
        await grid.AdvanceAsync(TimeSpan.FromMinutes(10), [node], TimeSpan.FromMinutes(1));       // 13:30
        Assert.Equal(1, await BillingSteps.TickAsync(grid));
        Assert.Equal(BillingSteps.Noon.AddMinutes(65), (await grid.Grains.GetGrain<IReservationGrain>(failing).GetBillsAsync()).Max(b => b.To));
        await grid.AdvanceAsync(TimeSpan.FromMinutes(10), [node], TimeSpan.FromMinutes(1));       // 13:40
        Assert.Equal(0, await BillingSteps.TickAsync(grid));
    }
}

/// <summary>What the billing tests share: a one-CU reservation, noon, ticking every billing shard and reading an account.</summary>
internal static class BillingSteps
{
    /// <summary>One CU (2 cores, 4 GiB): 100,000 minor units per hour at the default prices.</summary>
    public static readonly Capacity OneCu = new(2, 4L << 30, 0, 0);

    /// <summary>The grid time the billing tests start at: a cycle boundary.</summary>
    public static readonly DateTimeOffset Noon = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Ticks every billing shard, one after the other; the reservations asked.</summary>
    public static async Task<int> TickAsync(GridCluster grid)
    {
        var asked = 0;
        for (var shard = 0; shard < new BillingOptions().Shards; shard++)
        {
            asked += await grid.Grains.GetGrain<IBillingShardGrain>(shard).TickAsync();
        }

        return asked;
    }

    public static Task<AccountInfo> Account(GridCluster grid, long twinId) => grid.Grains.GetGrain<IAccountGrain>(twinId).GetAsync();
}
