using System.Diagnostics.Metrics;
using Grid.Billing;
using Grid.Testing;

namespace Grid.Grains.Tests;

/// <summary>
/// Prepaid billing with grid time driven by the test: 402 without funds, grace when a bill cannot be paid
/// (workloads off the node's desired list, capacity kept), resume on a deposit, cancel when grace runs out; a
/// reservation in grace whose node goes down and comes back stays in grace until a deposit covers it.
/// </summary>
[Collection(PrepaidCollection.Name)]
public sealed class PrepaidTests
{
    private const long Gib = 1L << 30;

    [Fact]
    public async Task NoFundsIs402GraceStopsWorkloadsADepositResumesAndGraceExpiryCancels()
    {
        using var graceGauge = new GraceGauge();
        await using var grid = await GridCluster.StartAsync(
            ("Grid:Billing:Mode", "prepaid"), ("Grid:Billing:GracePeriod", "02:00:00"),
            ("Grid:Health:HeartbeatTimeout", "1.00:00:00"), ("Grid:Billing:TickInterval", "01:00:00"));
        var (tenant, farmer) = (GridCluster.NewId(), GridCluster.NewId());
        var node = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(farmer), farmer, new Capacity(16, 64 * Gib, 0, 0));
        var id = GridCluster.NewId() * 3600;   // billed on the hour
        var reservation = grid.Grains.GetGrain<IReservationGrain>(id);
        var request = new ReservationRequest(tenant, BillingSteps.OneCu, PlacementConstraints.None, PlacementStrategy.Binpack);

        var refused = await Assert.ThrowsAsync<GridRequestException>(() => reservation.CreateAsync(request));
        Assert.Equal(402, refused.Status);
        Assert.Contains("100000 missing", refused.Message, StringComparison.Ordinal);
        Assert.Null(await reservation.GetAsync());
        Assert.Empty(await AllocationsAsync(grid, node));

        await DepositAsync(grid, tenant, "first", 150_000);   // one and a half hours
        Assert.NotNull((await reservation.CreateAsync(request)).Reservation);
        var workload = GridCluster.NewId();
        await reservation.AddWorkloadAsync(workload, new WorkloadSpec("vm", WorkloadType.Vm, Capacity.Zero, null));
        Assert.Equal([workload], await DesiredAsync(grid, node));

        // 12:00-13:00 is paid (50,000 left); 13:00-14:00 is not: grace.
        await grid.AdvanceAsync(TimeSpan.FromMinutes(62), [node], TimeSpan.FromMinutes(1));
        await BillingSteps.TickAsync(grid);
        Assert.Equal(ReservationState.Active, (await reservation.GetAsync())!.State);
        await grid.AdvanceAsync(TimeSpan.FromMinutes(60), [node], TimeSpan.FromMinutes(1));
        await BillingSteps.TickAsync(grid);
        Assert.Equal(ReservationState.Grace, (await reservation.GetAsync())!.State);
        Assert.Equal(-50_000, (await BillingSteps.Account(grid, tenant)).Balance);
        Assert.Empty(await DesiredAsync(grid, node));
        Assert.Contains(id, await AllocationsAsync(grid, node));
        Assert.Equal(1, graceGauge.Value);

        // The next bill covers only the 2 minutes served before grace began (14:00-14:02), not the grace hour.
        await grid.AdvanceAsync(TimeSpan.FromMinutes(60), [node], TimeSpan.FromMinutes(1));
        await BillingSteps.TickAsync(grid);
        Assert.Equal(120, (await reservation.GetBillsAsync())[0].Lines.Sum(l => l.Seconds));
        Assert.Equal(-53_333, (await BillingSteps.Account(grid, tenant)).Balance);

        // A deposit that covers the debt brings the workload back at once.
        await DepositAsync(grid, tenant, "second", 60_000);
        Assert.Equal(ReservationState.Active, (await reservation.GetAsync())!.State);
        Assert.Equal([workload], await DesiredAsync(grid, node));
        Assert.Equal(0, graceGauge.Value);

        // The next bill overdraws again; two hours of grace later it is cancelled and its capacity is free.
        await grid.AdvanceAsync(TimeSpan.FromMinutes(60), [node], TimeSpan.FromMinutes(1));
        await BillingSteps.TickAsync(grid);
        Assert.Equal(ReservationState.Grace, (await reservation.GetAsync())!.State);
        await grid.AdvanceAsync(TimeSpan.FromMinutes(121), [node], TimeSpan.FromMinutes(1));
        await BillingSteps.TickAsync(grid);
        Assert.Equal(ReservationState.Cancelled, (await reservation.GetAsync())!.State);
        Assert.Contains(await reservation.GetEventsAsync(), e => e.Kind == "cancelled" && e.Message.Contains("out of funds", StringComparison.Ordinal));
        await Poll.UntilAsync(async () => !(await AllocationsAsync(grid, node)).Contains(id), TimeSpan.FromSeconds(20), "the node freed the capacity");
        Assert.Empty(await DesiredAsync(grid, node));
        Assert.Equal(0, graceGauge.Value);
    }

    /// <summary>What <c>POST /api/v1/accounts/{twinId}/deposits</c> does: the ledger entry, then the resume pass.</summary>
    internal static async Task DepositAsync(GridCluster grid, long twinId, string key, long amount)
    {
        await grid.Grains.GetGrain<ILedgerGrain>(0).AppendAsync(BillingEvents.Deposit(twinId, key, amount));
        await grid.Grains.GetGrain<ITwinBillingGrain>(twinId).ResumeAsync();
    }

    private static async Task<long[]> DesiredAsync(GridCluster grid, long node) =>
        [.. (await grid.BeatAsync(node)).Desired.Select(w => w.WorkloadId)];

    private static async Task<long[]> AllocationsAsync(GridCluster grid, long node) =>
        [.. (await grid.Grains.GetGrain<INodeGrain>(node).GetAsync())!.Allocations.Select(a => a.ReservationId)];

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

    /// <summary>The net of <c>grid.billing.grace</c> (only this test runs prepaid, so no other test moves it).</summary>
    private sealed class GraceGauge : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _value;

        public GraceGauge()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "grid.billing.grace")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _value, value));
            _listener.Start();
        }

        public long Value => Interlocked.Read(ref _value);

        public void Dispose() => _listener.Dispose();
    }
}
