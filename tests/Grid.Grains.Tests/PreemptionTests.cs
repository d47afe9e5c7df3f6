using Grid.Billing;
using Grid.Testing;

namespace Grid.Grains.Tests;

/// <summary>One cluster for the preemption tests: a notice of 30 s of grid time, fast retries, at most 3 preemptions a minute.</summary>
public sealed class PreemptionCluster : IAsyncLifetime
{
    public GridCluster Grid { get; private set; } = null!;

    public async Task InitializeAsync() => Grid = await GridCluster.StartAsync(
        ("Grid:Scheduling:PreemptionNotice", "00:00:30"), ("Grid:Scheduling:MaxPreemptionsPerMinute", "3"),
        ("Grid:Health:RetryBackoff", "00:00:00.100"), ("Grid:Health:HeartbeatTimeout", "01:00:00"),
        ("Grid:Billing:TickInterval", "01:00:00"));

    public async Task DisposeAsync() => await Grid.DisposeAsync();
}

/// <summary>
/// Spot and priority on a real cluster: a reservation that fits nowhere preempts on one node, the victim moves where
/// there is room once its notice is over or waits as <c>preempted</c> (not billed) until room appears, its events say
/// by whom, the agent is told the notice, and the brake holds back what is over the minute's allowance. Each test has
/// a country of its own, so its nodes are the only ones its reservations see.
/// </summary>
public sealed class PreemptionTests(PreemptionCluster cluster) : IClassFixture<PreemptionCluster>
{
    private const long Gib = 1L << 30;
    private static readonly Capacity Four = new(4, 8 * Gib, 0, 0);
    private static int _countries;
    private readonly string _country = $"Q{Interlocked.Increment(ref _countries)}";
    private readonly long _tenant = GridCluster.NewId();

    private GridCluster Grid => cluster.Grid;

    [Fact]
    public async Task ASpotReservationGivesWayGetsNoticeAndMovesWhereThereIsRoomOnceTheNoticeIsOver()
    {
        ClearBrake();
        var farm = await Grid.CreateFarmAsync(GridCluster.NewId());
        var full = await NodeAsync(farm, 8);
        var spot = await ReserveAsync(Four, null, spot: true);
        var other = await ReserveAsync(Four, full, priority: 95);
        var workload = GridCluster.NewId();
        await Reservation(spot).AddWorkloadAsync(workload, new WorkloadSpec("w", WorkloadType.Vm, Capacity.Zero, null));
        var roomy = await NodeAsync(farm, 8);

        // Pinned to the full node at priority 90: only the spot reservation may give way (the other is 95).
        var high = await ReserveAsync(Four, full, priority: 90);
        Assert.Equal(full, high.NodeId);

        var victim = await UntilAsync(spot, info => info.State == ReservationState.Preempted, "the spot reservation preempted");
        Assert.Equal(high.ReservationId, victim.PreemptedBy);
        Assert.Equal(ReservationState.Active, (await Reservation(other).GetAsync())!.State);
        var preempted = Assert.Single(await Reservation(spot).GetEventsAsync(), e => e.Kind == "preempted");
        Assert.Contains($"by reservation {high.ReservationId}", preempted.Message, StringComparison.Ordinal);

        // The agent hears the notice with the workload gone from what it should run; nothing runs elsewhere meanwhile.
        var answer = await Grid.BeatAsync(full);
        Assert.DoesNotContain(answer.Desired, w => w.WorkloadId == workload);
        var notice = Assert.Single(answer.Notices!.Value, n => n.WorkloadId == workload);
        Assert.InRange(notice.GraceMs, 1, 30_000);
        Assert.Equal(ReservationState.Preempted, (await Reservation(spot).GetAsync())!.State);
        Assert.Empty((await Grid.Grains.GetGrain<INodeGrain>(roomy).GetAsync())!.Allocations);

        // Once the notice is over it runs again on the node with room, at a new epoch.
        Grid.Clock.Advance(TimeSpan.FromSeconds(31));
        var moved = await UntilAsync(spot, info => info.State == ReservationState.Active, "the spot reservation placed again");
        Assert.Equal((roomy, 2L), (moved.NodeId!.Value, moved.Epoch));
        Assert.Contains(await Reservation(spot).GetEventsAsync(), e => e.Kind == "placed-again" && e.NodeId == roomy);
        var desired = (await Grid.BeatAsync(roomy)).Desired;
        Assert.Contains(desired, w => w.WorkloadId == workload && w.Epoch == 2);
        Assert.Null((await Grid.BeatAsync(full)).Notices);
    }

    [Fact]
    public async Task APreemptedReservationIsNotBilledAndRunsAgainWhenRoomAppears()
    {
        ClearBrake();
        var farm = await Grid.CreateFarmAsync(GridCluster.NewId());
        var node = await NodeAsync(farm, 4);
        var spot = await ReserveAsync(Four, null, spot: true);
        var full = Pricing.PricePerHour(Four, PriceList.Default, certified: false);
        Assert.Equal(full * 4 / 10, spot.PricePerHour);   // SpotDiscount 0.6: it pays 40 %
        Assert.True(spot.Spot);
        Grid.Clock.Advance(TimeSpan.FromMinutes(10));

        var high = await ReserveAsync(Four, null);   // priority 50, not spot: spot gives way
        Assert.Equal(node, high.NodeId);
        await UntilAsync(spot, info => info.State == ReservationState.Preempted, "the spot reservation preempted");

        // Twenty minutes with no room: not billed; then a node joins and it is placed again there.
        Grid.Clock.Advance(TimeSpan.FromMinutes(20));
        await Grid.BeatAsync(node);
        Assert.Equal(ReservationState.Preempted, (await Reservation(spot).GetAsync())!.State);
        var joined = await NodeAsync(farm, 4);
        var again = await UntilAsync(spot, info => info.State == ReservationState.Active, "placed again on the new node");
        Assert.Equal(joined, again.NodeId);
        Grid.Clock.Advance(TimeSpan.FromMinutes(5));
        await Reservation(spot).CancelAsync();

        var bills = await Reservation(spot).GetBillsAsync();
        var lines = bills.SelectMany(b => b.Lines).ToList();
        Assert.Equal(600, lines.Where(l => l.NodeId == node).Sum(l => l.Seconds));
        Assert.Equal(300, lines.Where(l => l.NodeId == joined).Sum(l => l.Seconds));
        Assert.All(lines, l => Assert.Equal(Pricing.Cost(spot.PricePerHour, l.Seconds), l.Amount));
        await Reservation(high.ReservationId).CancelAsync();
    }

    [Fact]
    public async Task WithoutAGapOfTenPointsNothingIsPreemptedAndTheBrakeIsNamedWhenItHoldsBack()
    {
        ClearBrake();
        var farm = await Grid.CreateFarmAsync(GridCluster.NewId());
        var node = await NodeAsync(farm, 16);
        var low = new List<ReservationInfo>();
        for (var i = 0; i < 4; i++)
        {
            low.Add(await ReserveAsync(Four, null, priority: 41));
        }

        // 50 against 41: no preemption, the 409 is about capacity.
        var refused = await TryReserveAsync(Four, priority: 50);
        Assert.NotNull(refused.Unplaceable);
        Assert.DoesNotContain("brake", refused.Unplaceable.Describe(), StringComparison.Ordinal);

        // 51 preempts, three times (the minute's allowance), then the brake holds the fourth back and says so.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(node, (await ReserveAsync(Four, null, priority: 51)).NodeId);
        }

        var braked = await TryReserveAsync(Four, priority: 51);
        Assert.Null(braked.Reservation);
        Assert.Contains("Grid:Scheduling:MaxPreemptionsPerMinute", braked.Unplaceable!.Describe(), StringComparison.Ordinal);
        Assert.Equal(ReservationState.Active, (await Reservation(low[3].ReservationId).GetAsync())!.State);
        Assert.Equal(3, (await Task.WhenAll(low.Select(r => Reservation(r.ReservationId).GetAsync()))).Count(r => r!.State == ReservationState.Preempted));
    }

    /// <summary>The brake counts a minute of grid time: the preemptions of earlier tests fall out of it.</summary>
    private void ClearBrake() => Grid.Clock.Advance(TimeSpan.FromMinutes(2));

    private async Task<long> NodeAsync(long farm, int cores)
    {
        var node = await Grid.RegisterNodeAsync(farm, GridCluster.NewId(), new Capacity(cores, cores * 2 * Gib, 0, 0), _country);
        await Poll.UntilAsync(async () => (await Grid.Grains.GetGrain<INodeGrain>(node).GetSummaryAsync())?.Status == NodeStatus.Up,
            TimeSpan.FromSeconds(20), $"node {node} up");
        return node;
    }

    private IReservationGrain Reservation(ReservationInfo reservation) => Reservation(reservation.ReservationId);

    private IReservationGrain Reservation(long id) => Grid.Grains.GetGrain<IReservationGrain>(id);

    private ReservationRequest Request(Capacity resources, long? pinned, int priority, bool spot) =>
        new(_tenant, resources, PlacementConstraints.None with { Country = _country, NodeId = pinned }, PlacementStrategy.Binpack)
        {
            Priority = priority,
            Spot = spot,
        };

    private async Task<ReservationInfo> ReserveAsync(Capacity resources, long? pinned, int priority = 50, bool spot = false)
    {
        // Through the placer, as the API places a new reservation (placement by preemption included).
        ReservationInfo? placed = null;
        await Poll.UntilAsync(async () => (placed = (await Grid.Placer.PlaceAsync(GridCluster.NewId(), Request(resources, pinned, priority, spot))).Reservation) is not null,
            TimeSpan.FromSeconds(20), "a placement (the silo's view catches up with new nodes)");
        return placed!;
    }

    private Task<ReservationOutcome> TryReserveAsync(Capacity resources, int priority) =>
        Grid.Placer.PlaceAsync(GridCluster.NewId(), Request(resources, null, priority, false));

    private async Task<ReservationInfo> UntilAsync(ReservationInfo reservation, Func<ReservationInfo, bool> condition, string what)
    {
        ReservationInfo? seen = null;
        await Poll.UntilAsync(async () => condition(seen = (await Reservation(reservation).GetAsync())!), TimeSpan.FromSeconds(20), what);
        return seen!;
    }
}
