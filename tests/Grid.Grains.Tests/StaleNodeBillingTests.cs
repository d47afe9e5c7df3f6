using Grid.Billing;
using Grid.Ledger;
using Grid.Testing;
using Orleans.Core.Internal;

namespace Grid.Grains.Tests;

/// <summary>
/// The meter stops at a lost node's last heartbeat even when the loss is decided late: after the period was due
/// to be settled, or by a resumed evacuation after the node's activation was lost with its silo.
/// </summary>
public sealed class StaleNodeBillingTests
{
    private const long Gib = 1L << 30;

    [Fact]
    public async Task ANodeDeclaredDownPastTheSettleDelayIsBilledOnlyToItsLastHeartbeat()
    {
        var ledger = new MemoryLedgerStore();
        await using var grid = await GridCluster.StartAsync(ledger,
            ("Grid:Health:HeartbeatTimeout", "00:05:00"), ("Grid:Billing:TickInterval", "01:00:00"));
        var (a, b, reservation, id) = await PlaceAsync(grid);

        // a's last heartbeat is at 12:58; at 13:01:30 (past the settle delay of 13:00) it is silent but not yet down.
        await grid.AdvanceAsync(TimeSpan.FromMinutes(58), [a, b], TimeSpan.FromMinutes(1));
        await grid.AdvanceAsync(TimeSpan.FromSeconds(210), [b], TimeSpan.FromSeconds(10));
        await BillingSteps.TickAsync(grid);
        Assert.Empty(await reservation.GetBillsAsync());   // not settled while a has not been heard from since 13:00

        await grid.AdvanceAsync(TimeSpan.FromMinutes(2), [b], TimeSpan.FromSeconds(10));   // a declared down at 13:03:10
        await Poll.UntilAsync(async () => (await reservation.GetAsync())!.NodeId == b, TimeSpan.FromSeconds(20), "the reservation moved to b");
        var movedAt = (await reservation.GetEventsAsync()).Single(e => e.Kind == "moved").At;
        await grid.AdvanceAsync(TimeSpan.FromMinutes(58), [b], TimeSpan.FromMinutes(1));  // 14:01:30
        await BillingSteps.TickAsync(grid);

        var bills = (await reservation.GetBillsAsync()).Reverse().ToList();
        Assert.Equal((BillingSteps.Noon, BillingSteps.Noon.AddHours(1)), (bills[0].From, bills[0].To));
        Assert.Equal([(a, 3480L, 96_666L)], bills[0].Lines.Select(l => (l.NodeId, l.Seconds, l.Amount)).ToArray());
        Assert.Equal((BillingSteps.Noon.AddHours(1), BillingSteps.Noon.AddHours(2)), (bills[1].From, bills[1].To));
        Assert.Equal([(b, (long)(BillingSteps.Noon.AddHours(2) - movedAt).TotalSeconds)], bills[1].Lines.Select(l => (l.NodeId, l.Seconds)).ToArray());
        Assert.Equal([$"bill:{id}:1", $"bill:{id}:2"],
            (await ledger.ReadAsync(1, 10_000)).Where(e => e.Kind == LedgerKinds.Bill).Select(e => e.EventId).ToArray());
    }

    [Fact]
    public async Task AResumedEvacuationAfterTheNodesActivationWasLostStopsTheMeterAtTheLastHeartbeat()
    {
        var ledger = new MemoryLedgerStore();
        await using var grid = await GridCluster.StartAsync(ledger,
            ("Grid:Health:HeartbeatTimeout", "00:01:00"), ("Grid:Billing:TickInterval", "01:00:00"));
        var (a, b, reservation, _) = await PlaceAsync(grid);
        await grid.AdvanceAsync(TimeSpan.FromMinutes(30), [a, b], TimeSpan.FromSeconds(10));   // a's last heartbeat: 12:30:00

        // a is declared down at 12:31:10, but the move's write fails: the evacuation is lost, and so is a's activation.
        grid.Stall.Fail("reservation");
        await grid.AdvanceAsync(TimeSpan.FromSeconds(70), [b], TimeSpan.FromSeconds(10));
        await Poll.UntilAsync(() => Task.FromResult(grid.Stall.Failed > 0), TimeSpan.FromSeconds(20), "the move's write failed");
        await Poll.UntilAsync(async () => (await grid.Grains.GetGrain<INodeGrain>(a).GetAsync())!.Status == NodeStatus.Down, TimeSpan.FromSeconds(20), "a is down");
        await grid.Grains.GetGrain<INodeGrain>(a).Cast<IGrainManagementExtension>().DeactivateOnIdle();
        grid.Stall.Release();

        // The index shard asks a again: a new activation resumes the evacuation.
        await grid.AdvanceAsync(TimeSpan.FromMinutes(2), [b], TimeSpan.FromSeconds(10));
        await Poll.UntilAsync(async () => (await reservation.GetAsync())!.NodeId == b, TimeSpan.FromSeconds(20), "the resumed evacuation moved the reservation to b");
        await grid.AdvanceAsync(TimeSpan.FromMinutes(28), [b], TimeSpan.FromMinutes(1));   // 13:01:10
        await BillingSteps.TickAsync(grid);

        var bill = Assert.Single(await reservation.GetBillsAsync());
        Assert.Equal((a, 1800L), (bill.Lines[0].NodeId, bill.Lines[0].Seconds));
        var down = Assert.Single(await ledger.ReadAsync(1, 10_000), e => e.Kind == LedgerKinds.NodeDown && e.Subject == $"node:{a}");
        Assert.Contains($"\"lastHeartbeat\":\"{BillingSteps.Noon.AddMinutes(30):yyyy-MM-ddTHH:mm:ss}", down.Details, StringComparison.Ordinal);
    }

    /// <summary>Node a (exactly one CU, so binpack fills it) and a larger node b; a reservation billed on the hour, on a.</summary>
    private static async Task<(long A, long B, IReservationGrain Reservation, long Id)> PlaceAsync(GridCluster grid)
    {
        var (tenant, farmerA, farmerB) = (GridCluster.NewId(), GridCluster.NewId(), GridCluster.NewId());
        var a = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(farmerA), farmerA, BillingSteps.OneCu);
        var b = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(farmerB), farmerB, new Capacity(16, 64 * Gib, 0, 0));
        var id = GridCluster.NewId() * 3600;
        var reservation = grid.Grains.GetGrain<IReservationGrain>(id);
        var placed = (await reservation.CreateAsync(new ReservationRequest(tenant, BillingSteps.OneCu, PlacementConstraints.None, PlacementStrategy.Binpack))).Reservation!;
        Assert.Equal(a, placed.NodeId);
        return (a, b, reservation, id);
    }
}
