using System.Collections.Immutable;
using FsCheck.Xunit;
using Grid.Billing;
using Grid.Nodes;
using Grid.Rents;
using Grid.Scheduling;

namespace Grid.Grains.Tests.Rents;

/// <summary>The pure rules of rent contracts and solution providers: the lock, the filter, the discount and the provider's cut.</summary>
public sealed class RentRulesTests
{
    private const long Gib = 1L << 30;
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
    private static readonly Capacity Machine = new(8, 16 * Gib, 512 * Gib, 0);

    [Fact]
    public void ARentIsRefusedNamingOtherTwinsReservationsAndTakenWhenOnlyTheRentersAreThere()
    {
        var node = Registered();
        var held = new NodeCapacity(Machine, 1.0, node.Allocations);
        held.TryAllocate([Request(11, twin: 1), Request(12, twin: 2), Request(13, twin: 2)], Now);

        var refused = NodeRentLock.Apply(node, held, 1, contractId: 100);
        held.Release([new HeldPlacement(12, 1), new HeldPlacement(13, 1)]);
        var taken = NodeRentLock.Apply(node, held, 1, contractId: 100);
        var retried = NodeRentLock.Apply(node, held, 1, contractId: 100);
        var other = NodeRentLock.Apply(node, held, 2, contractId: 101);

        Assert.Equal(RentLockOutcome.OtherTwinsReservations, refused.Outcome);
        Assert.Equal(new long[] { 12, 13 }, refused.ReservationIds.ToArray());
        Assert.Equal(RentLockOutcome.Done, taken.Outcome);
        Assert.Equal(new long[] { 11 }, taken.ReservationIds.ToArray());
        Assert.Equal(RentLockOutcome.Done, retried.Outcome);
        Assert.Equal((RentLockOutcome.RentedByOther, 100L), (other.Outcome, other.RentContractId!.Value));
        Assert.Equal((1L, 100L), (node.RentedBy!.Value, node.RentContractId!.Value));
    }

    [Fact]
    public void ARentedNodeTakesOnlyTheRentersReservationsUntilTheRentEnds()
    {
        var node = Registered();
        var held = new NodeCapacity(Machine, 1.0, node.Allocations);
        NodeRentLock.Apply(node, held, 1, contractId: 100);

        var claim = held.TryAllocate([Request(21, twin: 2), Request(22, twin: 1)], Now, node.RentedBy);
        var wrongRelease = NodeRentLock.Apply(node, held, null, contractId: 999);
        var release = NodeRentLock.Apply(node, held, null, contractId: 100);
        var after = held.TryAllocate([Request(21, twin: 2)], Now, node.RentedBy);

        Assert.Equal(AllocationOutcome.Rented, claim.Results[0]!.Outcome);
        Assert.Equal(22, Assert.Single(claim.Taken).Allocation.ReservationId);
        Assert.Equal(100, wrongRelease.RentContractId);          // another contract's release changes nothing
        Assert.Equal(new long[] { 22 }, release.ReservationIds.ToArray());     // the renter's reservations, to be billed again
        Assert.Null(node.RentedBy);
        Assert.Single(after.Taken);
    }

    [Fact]
    public void TheSchedulerSkipsANodeRentedByAnotherTwinAndNamesWhy()
    {
        var summary = new NodeSummary(1, 1, 9, NodeStatus.Up, false, null, Machine, Machine, new Location("BE", "Ghent"),
            NodeCertification.Diy, [], 1, Capacity.Zero) { RentedBy = 5, RentContractId = 70 };
        var mine = new ReservationRequest(5, new Capacity(1, Gib, 0, 0), PlacementConstraints.None, PlacementStrategy.Binpack);

        Assert.Null(PlacementFilter.Reject(summary, mine, Now, null));
        Assert.Equal(RentFilter.Rented, PlacementFilter.Reject(summary, mine with { TwinId = 6 }, Now, null));
        Assert.True(RentFilter.RentedBy(summary, 5));
        Assert.False(RentFilter.RentedBy(summary with { RentedBy = null }, 5));
    }

    [Theory]
    [InlineData(0, 528_000)]          // 4 CU + 2.56 SU at the default prices
    [InlineData(500_000, 264_000)]    // the default: half price
    [InlineData(1_000_000, 0)]
    [InlineData(333_333, 352_000)]    // floor(528,000 × 666,667 / 10^6) = 352,000.176
    public void ARentedNodeCostsItsWholeCapacityLessTheDiscount(int discountPpm, long expected) =>
        Assert.Equal(expected, RentPricing.PricePerHour(Machine with { Ipv4 = 3 }, PriceList.Default, false, discountPpm));

    [Theory]
    [InlineData(0, 528_000 + 2_000_000)]
    [InlineData(500_000, 264_000 + 1_000_000)]  // the GPUs at the same discount as the rest of the node
    public void ARentedNodesGpusAreInItsRent(int discountPpm, long expected) =>
        Assert.Equal(expected, RentPricing.PricePerHour(Machine with { Gpu = 2 }, PriceList.Default, false, discountPpm, gpuPricePerHour: 1_000_000));

    [Theory]
    [InlineData("0.5", 500_000)]
    [InlineData("0.1", 100_000)]
    [InlineData("0.000001", 1)]
    public void AProviderShareIsConvertedToPartsPerMillion(string share, int expected) =>
        Assert.Equal(expected, ProviderCut.SharePpmOf(decimal.Parse(share, System.Globalization.CultureInfo.InvariantCulture)));

    [Theory]
    [InlineData("0")]
    [InlineData("-0.1")]
    [InlineData("0.5000001")]
    [InlineData("0.6")]
    [InlineData("0.0000001")]
    public void AShareOutsideZeroToAHalfIsRefused(string share) =>
        Assert.Null(ProviderCut.SharePpmOf(decimal.Parse(share, System.Globalization.CultureInfo.InvariantCulture)));

    [Property(MaxTest = 300)]
    public void AProviderGetsItsShareOfTheGridsPartOfEveryLineAndThePostingsStillSumToZero(int seed)
    {
        var random = new Random(seed);
        var lines = Enumerable.Range(0, random.Next(1, 6))
            .Select(i => new BillLine(i + 1, i % 2 + 1, 60, 0, 0, 0, random.NextInt64(0, 10_000_000_000))).ToImmutableArray();
        var bill = new Bill("bill:1:1", 1, 1, Now, Now.AddHours(1), lines.Sum(l => l.Amount), lines, TwinId: 50);
        var cut = new ProviderCut(60, random.Next(1, ProviderCut.MaxSharePpm + 1));
        var share = (9L, 10L);
        long FarmerOf(BillLine line) => 70 + line.FarmId;

        var postings = Payouts.Of(bill, FarmerOf, share, cut);

        var expectedProvider = lines.Sum(l => (l.Amount - (l.Amount * 9 / 10)) * cut.SharePpm / 1_000_000);
        var expectedFarmers = lines.Sum(l => l.Amount * 9 / 10);
        Assert.Equal(0, postings.Sum(p => p.Amount));
        Assert.Equal(expectedProvider, postings.Where(p => p.AccountId == 60).Sum(p => p.Amount));
        Assert.Equal(expectedProvider, Payouts.ProviderAmount(bill, FarmerOf, share, cut));
        Assert.Equal(expectedFarmers, postings.Where(p => p.AccountId is 71 or 72).Sum(p => p.Amount));   // untouched by the provider
        Assert.Equal(bill.Amount - expectedFarmers - expectedProvider, postings.Where(p => p.AccountId == Money.GridAccountId).Sum(p => p.Amount));
    }

    [Fact]
    public void AReservationOnANodeItsTwinRentsIsNotMeteredThereButIsElsewhere()
    {
        var meter = new ReservationMeter { PricePerHour = 3_600, BilledUntil = Now, RentedNodeId = 1 };
        meter.Start(1, Now);
        Assert.Null(meter.Open);

        meter.RentedNodeId = null;
        meter.Start(2, Now.AddSeconds(10));
        var bill = meter.Compute(7, 5, new Capacity(1, Gib, 0, 0), Now.AddSeconds(40))!;

        Assert.Equal((2L, 30L, 30L), (Assert.Single(bill.Lines).NodeId, bill.Lines[0].Seconds, bill.Amount));
    }

    private static NodeState Registered() => new()
    {
        Registration = new NodeRegistration(1, 9, Machine, new Location("BE", "Ghent"), NodeCertification.Diy, "hash"),
        Status = NodeStatus.Up,
    };

    private static AllocationRequest Request(long reservationId, long twin) =>
        new(reservationId, 1, twin, new Capacity(1, Gib, 0, 0), null, []);
}
