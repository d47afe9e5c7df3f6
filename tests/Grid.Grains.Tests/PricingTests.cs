using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Grid.Billing;

namespace Grid.Grains.Tests;

/// <summary>ThreeFold units, prices, rounding and payouts in exact integers.</summary>
public sealed class PricingTests
{
    private const long Gib = 1L << 30;

    [Theory]
    [InlineData(2, 4, 0, 0, 0, false, 100_000)]      // 1 CU
    [InlineData(1, 1, 0, 0, 0, false, 50_000)]       // min(max(.25,.5), max(.125,1), max(.5,.25)) = 0.5 CU
    [InlineData(0, 0, 200, 0, 0, false, 50_000)]     // 200 GiB SSD = 1 SU
    [InlineData(0, 0, 0, 1200, 0, false, 50_000)]    // 1200 GiB HDD = 1 SU
    [InlineData(0, 0, 0, 0, 1, false, 40_000)]       // one IPv4
    [InlineData(2, 4, 0, 0, 0, true, 125_000)]       // certified: +25 %
    [InlineData(8, 32, 1000, 0, 2, false, 1_130_000)] // 8 CU (min(8, 8, 16)) + 5 SU + 2 IPU
    public void PricePerHourFollowsTheThreeFoldUnits(long cru, long mruGib, long sruGib, long hruGib, int ipv4, bool certified, long expected) =>
        Assert.Equal(expected, Pricing.PricePerHour(new Capacity(cru, mruGib * Gib, sruGib * Gib, hruGib * Gib, ipv4), PriceList.Default, certified));

    [Fact]
    public void APriceIsRoundedDownOnceFromTheExactSum()
    {
        // One byte of RAM is 1/2^33 CU: the exact price is 100000/2^33 per hour, which rounds down to 0.
        Assert.Equal(0, Pricing.PricePerHour(new Capacity(0, 1, 0, 0), PriceList.Default, false));
        // 1 GiB SSD = 1/200 SU = 250 per hour exactly; 1 GiB HDD = 1/1200 SU = 41.67 → 41; together exactly 291.67 → 291.
        Assert.Equal(291, Pricing.PricePerHour(new Capacity(0, 0, Gib, Gib), PriceList.Default, false));
        Assert.Equal(0.5m, Pricing.Cu(new Capacity(1, Gib, 0, 0)));
        Assert.Equal(0.005833m, Pricing.Su(new Capacity(0, 0, Gib, Gib)));
    }

    [Fact]
    public void CostOfSecondsAndTheFarmerShareRoundDown()
    {
        Assert.Equal(16_666, Pricing.Cost(100_000, 600));
        Assert.Equal(100_000, Pricing.Cost(100_000, 3600));
        Assert.Equal(14_999, Pricing.FarmerPart(16_666, 9, 10));
        Assert.Equal((9, 10), new BillingOptions().FarmerShareRatio);
        Assert.Equal((875, 1000), new BillingOptions { FarmerShare = 0.875m }.FarmerShareRatio);
        Assert.Equal((1, 1), new BillingOptions { FarmerShare = 1m }.FarmerShareRatio);
    }

    [Fact]
    public void BoundariesAreSpreadOverTheCycleByReservationId()
    {
        var options = new BillingOptions();
        var noon = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(noon.AddSeconds(5), options.NextBoundary(5, noon));
        Assert.Equal(noon.AddHours(1).AddSeconds(5), options.NextBoundary(5, noon.AddSeconds(5)));
        Assert.Equal(noon.AddHours(1), options.NextBoundary(7200, noon));
        Assert.Equal(noon.AddSeconds(3599), options.NextBoundary(3599, noon.AddSeconds(-1)));
        Assert.NotEqual(options.OffsetOf(1), options.OffsetOf(2));
    }

    [Property(MaxTest = 300)]
    public Property PayoutsAlwaysSumToZeroAndFarmersGetTheFloorOfTheirShare()
    {
        var lines = Gen.Choose(0, 5_000_000).Two().ListOf().Select(l => l.Take(6).ToList());
        return Prop.ForAll(lines.ToArbitrary(), Gen.Choose(0, 1000).ToArbitrary(), (amounts, permille) =>
        {
            var billLines = amounts.Select((a, i) => new BillLine(i + 1, (i % 3) + 1, a.Item2, 1, 0, 0, a.Item1)).ToList();
            var bill = new Bill("bill:1:1", 1, 1, default, default, billLines.Sum(l => l.Amount), [.. billLines], TwinId: 77);
            var share = ((long)permille, 1000L);
            var postings = Payouts.Of(bill, line => 100 + line.FarmId, share);
            var farmers = postings.Where(p => p.AccountId >= 100).Sum(p => p.Amount);
            return postings.Sum(p => p.Amount) == 0
                && postings.Single(p => p.AccountId == 77).Amount == -bill.Amount
                && farmers == billLines.Sum(l => l.Amount * permille / 1000)
                && postings.All(p => p.AccountId == 77 || p.Amount > 0);
        });
    }

    [Fact]
    public void TheMeterBillsOnlyServedSecondsPerNodeAndMovesItsCursor()
    {
        var t0 = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        var meter = new ReservationMeter { PricePerHour = 3600, FarmId = 1, FarmerTwinId = 10, BilledUntil = t0 };
        meter.Start(100, t0);
        meter.Stop(t0.AddMinutes(30).AddMilliseconds(700));   // last heartbeat, rounded down to the second
        meter.PricePerHour = 7200;
        meter.FarmId = 2;
        meter.FarmerTwinId = 20;
        meter.Start(200, t0.AddMinutes(50));

        var bill = meter.Compute(42, 5, new Capacity(2, 4 * Gib, 0, 0), t0.AddHours(1))!;
        Assert.Equal("bill:42:1", bill.BillId);
        Assert.Equal([(100L, 1800L, 1800L), (200L, 600L, 1200L)], bill.Lines.Select(l => (l.NodeId, l.Seconds, l.Amount)).ToArray());
        Assert.Equal(3000, bill.Amount);
        Assert.Equal(20, meter.FarmerOf(bill.Lines[1]));

        meter.Advance(bill.To, bill);
        Assert.Equal(t0.AddHours(1), meter.BilledUntil);
        Assert.Empty(meter.Served);
        var next = meter.Compute(42, 5, new Capacity(2, 4 * Gib, 0, 0), t0.AddHours(1).AddMinutes(1))!;
        Assert.Equal(2, next.Sequence);
        Assert.Equal(60, Assert.Single(next.Lines).Seconds);
        Assert.Null(new ReservationMeter { BilledUntil = t0 }.Compute(1, 1, Capacity.Zero, t0.AddHours(1)));
    }
}
