using System.Collections.Immutable;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Grid.Scheduling;

namespace Grid.Grains.Tests;

/// <summary>Capacity arithmetic and the scheduler's filters, as properties over random machines and requests.</summary>
public sealed class CapacityTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Property]
    public bool ShortfallIsNoneExactlyWhenFreeCapacityCoversTheRequest(PositiveInt cru, PositiveInt mru, NonNegativeInt sru, NonNegativeInt want1, NonNegativeInt want2)
    {
        var free = new Capacity(cru.Get, mru.Get, sru.Get, 0);
        var wanted = new Capacity(want1.Get % (cru.Get * 2 + 1), want2.Get % (mru.Get * 2 + 1), 0, 0);
        return (CapacityMath.FirstShortfall(free, wanted) is null) == free.Covers(wanted);
    }

    [Property]
    public bool MemoryAndDiskAreNeverOvercommittedWhateverTheCpuRatio(PositiveInt cores, PositiveInt memory, NonNegativeInt usedMemory, byte ratioTenths)
    {
        var total = new Capacity(cores.Get, memory.Get, 1000, 1000);
        var used = new Capacity(cores.Get, Math.Min(usedMemory.Get, memory.Get), 1000, 0);
        var ratio = 1 + ratioTenths / 10.0;
        var free = CapacityMath.Free(total, used, ratio);
        return free.Mru == total.Mru - used.Mru && free.Sru == 0 && free.Hru == 1000
            && free.Cru == (long)Math.Floor(cores.Get * ratio) - cores.Get;
    }

    [Property(MaxTest = 200)]
    public Property GreedyPlacementThroughTheFilterNeverOverbooksANode()
    {
        var sizes = Gen.Choose(1, 8).ListOf().Select(l => l.Take(60).ToList());
        return Prop.ForAll(sizes.ToArbitrary(), requests =>
        {
            var nodes = Enumerable.Range(1, 3).Select(i => Summary(i, new Capacity(16, 32, 0, 0))).ToDictionary(n => n.NodeId);
            foreach (var size in requests)
            {
                var request = Request(new Capacity(size, size * 2, 0, 0));
                var fit = nodes.Values.Where(n => PlacementFilter.Reject(n, request, Now, null) is null)
                    .OrderByDescending(n => PlacementFilter.Score(n, request.Resources, request.Strategy)).FirstOrDefault();
                if (fit is not null)
                {
                    nodes[fit.NodeId] = fit with { Free = fit.Free - request.Resources, Used = fit.Used + request.Resources };
                }
            }

            return nodes.Values.All(n => !n.Free.IsNegative && n.Total.Covers(n.Used));
        });
    }

    [Theory]
    [InlineData(NodeStatus.Down, false, null, "down")]
    [InlineData(NodeStatus.Up, true, null, "draining")]
    [InlineData(NodeStatus.Up, false, 10, "rejoining")]
    [InlineData(NodeStatus.Up, false, -10, null)]
    public void NodeStateDecidesWhetherItTakesPlacements(NodeStatus status, bool draining, int? rejoinInSeconds, string? reason)
    {
        var node = Summary(1, new Capacity(8, 8, 0, 0)) with
        {
            Status = status,
            Draining = draining,
            RejoinAt = rejoinInSeconds is { } s ? Now.AddSeconds(s) : null,
        };

        Assert.Equal(reason, PlacementFilter.Reject(node, Request(new Capacity(1, 1, 0, 0)), Now, null));
    }

    [Fact]
    public void ConstraintsAreCheckedBeforeCapacitySoTheReasonNamesTheConstraint()
    {
        var node = Summary(7, new Capacity(1, 1, 0, 0));
        var big = new Capacity(100, 100, 0, 0);

        Assert.Equal("other country", PlacementFilter.Reject(node, Request(big) with { Constraints = PlacementConstraints.None with { Country = "Egypt" } }, Now, null));
        Assert.Equal("other farm", PlacementFilter.Reject(node, Request(big) with { Constraints = PlacementConstraints.None with { FarmIds = [99] } }, Now, null));
        Assert.Equal("not the pinned node", PlacementFilter.Reject(node, Request(big) with { Constraints = PlacementConstraints.None with { NodeId = 8 } }, Now, null));
        Assert.Equal("not certified", PlacementFilter.Reject(node, Request(big) with { Constraints = PlacementConstraints.None with { Certified = true } }, Now, null));
        Assert.Equal("excluded", PlacementFilter.Reject(node, Request(big), Now, new HashSet<long> { 7 }));
        Assert.Equal("insufficient cru", PlacementFilter.Reject(node, Request(big), Now, null));
        Assert.Equal("other country", PlacementFilter.Reject(node, Request(big) with { Constraints = PlacementConstraints.None with { Country = "egypt" } }, Now, null));
        Assert.Null(PlacementFilter.Reject(node, Request(new Capacity(1, 1, 0, 0)) with { Constraints = PlacementConstraints.None with { Country = "belgium" } }, Now, null));
    }

    [Fact]
    public void ReportSaysHowManyNodesFailedEachFilterLargestFirst()
    {
        var report = PlacementFilter.Report(20, [.. Enumerable.Repeat("insufficient mru", 12), .. Enumerable.Repeat("other country", 5), .. Enumerable.Repeat("down", 3)]);

        Assert.Equal("0/20 nodes fit: 12 insufficient mru, 5 other country, 3 down", report.Describe());
    }

    [Fact]
    public void BinpackPrefersTheFullerNodeAndSpreadTheEmptier()
    {
        var full = Summary(1, new Capacity(8, 8, 0, 0)) with { Free = new Capacity(2, 2, 0, 0) };
        var empty = Summary(2, new Capacity(8, 8, 0, 0));
        var wanted = new Capacity(1, 1, 0, 0);

        Assert.True(PlacementFilter.Score(full, wanted, PlacementStrategy.Binpack) > PlacementFilter.Score(empty, wanted, PlacementStrategy.Binpack));
        Assert.True(PlacementFilter.Score(empty, wanted, PlacementStrategy.Spread) > PlacementFilter.Score(full, wanted, PlacementStrategy.Spread));
    }

    private static ReservationRequest Request(Capacity resources) =>
        new(1, resources, PlacementConstraints.None, PlacementStrategy.Binpack);

    private static NodeSummary Summary(long id, Capacity total) =>
        new(id, 1, 1, NodeStatus.Up, false, null, total, total, new Location("Belgium", "Ghent"), NodeCertification.Diy,
            ImmutableArray<string>.Empty, 1, Capacity.Zero);
}
