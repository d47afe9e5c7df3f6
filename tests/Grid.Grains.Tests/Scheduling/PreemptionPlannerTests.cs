using Grid.Scheduling;

namespace Grid.Grains.Tests.Scheduling;

/// <summary>The preemption decision as a pure function: which node, which victims.</summary>
public sealed class PreemptionPlannerTests
{
    private const long Gib = 1L << 30;
    private const long Newcomer = 1;

    /// <summary>A node of 8 cores and 16 GiB with nothing free: what it holds must give way.</summary>
    private static PreemptionCandidate Full(long nodeId, params Allocation[] held) => new(nodeId, new Capacity(0, 0, 0, 0), held);

    private static Allocation Held(long id, int cores, int priority = 50, bool spot = false, long price = 100) =>
        new(id, 1, 7, new Capacity(cores, cores * 2 * Gib, 0, 0), [], null, [], default)
        {
            Priority = priority,
            Spot = spot,
            PricePerHour = price,
        };

    private static ReservationRequest Wants(int cores, int priority = 90, bool spot = false) =>
        new(7, new Capacity(cores, cores * 2 * Gib, 0, 0), PlacementConstraints.None, PlacementStrategy.Binpack) { Priority = priority, Spot = spot };

    [Fact]
    public void FewestVictimsWinOverCheaperOnes()
    {
        // Node 10 needs one large victim; node 20 two small cheap ones.
        var plan = PreemptionPlanner.Plan(Newcomer, Wants(4), [
            Full(10, Held(101, 4, price: 500), Held(102, 4, price: 500)),
            Full(20, Held(201, 2, price: 10), Held(202, 2, price: 10), Held(203, 4, priority: 95)),
        ]);

        Assert.NotNull(plan);
        Assert.Equal(10, plan.NodeId);
        Assert.Single(plan.Victims);
    }

    [Fact]
    public void AmongEquallyFewTheCheapestWins()
    {
        var plan = PreemptionPlanner.Plan(Newcomer, Wants(4), [
            Full(10, Held(101, 4, price: 500), Held(102, 4, price: 300)),
            Full(20, Held(201, 4, price: 200), Held(202, 4, price: 900)),
        ]);

        Assert.Equal((20L, 201L), (plan!.NodeId, plan.Victims.Single().ReservationId));
    }

    [Fact]
    public void OnOneNodeTheSmallestCoverIsTakenThenTheCheapest()
    {
        // 6 cores lacking: 4+2 (two victims) beats 2+2+2 (three), and of the two-victim covers the cheapest.
        var plan = PreemptionPlanner.PlanNode(Newcomer, Wants(6), Full(10,
            Held(11, 2, price: 1), Held(12, 2, price: 1), Held(13, 2, price: 1), Held(14, 4, price: 50), Held(15, 4, price: 40)));

        Assert.Equal([11L, 15L], plan!.Victims.Select(v => v.ReservationId));
        Assert.Equal(41, plan.Cost);
    }

    [Theory]
    [InlineData(80, 70, true)]
    [InlineData(80, 71, false)]
    [InlineData(50, 50, false)]
    [InlineData(100, 90, true)]
    public void OnlyAGapOfTenPointsPreempts(int priority, int victimPriority, bool preempts)
    {
        var plan = PreemptionPlanner.Plan(Newcomer, Wants(4, priority), [Full(10, Held(101, 4, victimPriority))]);

        Assert.Equal(preempts, plan is not null);
    }

    [Fact]
    public void SpotIsAlwaysPreemptibleByWhatIsNotSpot()
    {
        // A spot reservation at priority 100 gives way to a priority-0 reservation that is not spot.
        Assert.NotNull(PreemptionPlanner.Plan(Newcomer, Wants(4, priority: 0), [Full(10, Held(101, 4, 100, spot: true))]));

        // Spot against spot: the gap decides.
        Assert.Null(PreemptionPlanner.Plan(Newcomer, Wants(4, priority: 55, spot: true), [Full(10, Held(101, 4, 50, spot: true))]));
        Assert.NotNull(PreemptionPlanner.Plan(Newcomer, Wants(4, priority: 60, spot: true), [Full(10, Held(101, 4, 50, spot: true))]));
    }

    [Fact]
    public void NeverPicksANodeWhereAllItMayPreemptDoesNotMakeRoom()
    {
        // Node 10: only 2 of its cores are preemptible; node 20: enough, but at a higher cost.
        var plan = PreemptionPlanner.Plan(Newcomer, Wants(4), [
            Full(10, Held(101, 2, price: 1), Held(102, 6, priority: 85)),
            Full(20, Held(201, 4, price: 1_000)),
        ]);

        Assert.Equal(20, plan!.NodeId);
        Assert.Null(PreemptionPlanner.Plan(Newcomer, Wants(4), [Full(10, Held(101, 2), Held(102, 6, priority: 85))]));
    }

    [Fact]
    public void WhatIsFreeAlreadyCountsAndEveryUnitMustFit()
    {
        // 2 cores free: one 2-core victim is enough for 4 cores...
        var partly = new PreemptionCandidate(10, new Capacity(2, 4 * Gib, 0, 0), [Held(101, 2), Held(102, 4)]);
        Assert.Equal([101L], PreemptionPlanner.PlanNode(Newcomer, Wants(4), partly)!.Victims.Select(v => v.ReservationId));

        // ...but not when the request's memory is more than that victim frees.
        var request = Wants(4) with { Resources = new Capacity(4, 12 * Gib, 0, 0) };
        Assert.Equal([102L], PreemptionPlanner.PlanNode(Newcomer, request, partly)!.Victims.Select(v => v.ReservationId));
    }

    [Fact]
    public void ItsOwnAllocationIsNeverAVictim()
    {
        Assert.Null(PreemptionPlanner.Plan(Newcomer, Wants(4), [Full(10, Held(Newcomer, 4, priority: 0))]));
    }

    [Fact]
    public void ManySmallAllocationsStillFindACoverQuickly()
    {
        var many = Enumerable.Range(2, 200).Select(i => Held(i, 1, price: i)).ToArray();
        var plan = PreemptionPlanner.PlanNode(Newcomer, Wants(16), Full(10, many));

        Assert.NotNull(plan);
        Assert.Equal(16, plan.Victims.Sum(v => v.Resources.Cru));
    }
}
