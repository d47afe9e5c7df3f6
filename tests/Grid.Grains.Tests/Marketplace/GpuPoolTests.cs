using System.Collections.Immutable;
using Grid.Nodes;
using Grid.Scheduling;

namespace Grid.Grains.Tests.Marketplace;

/// <summary>A node's GPUs as discrete ids: one reservation per GPU, models, epochs, and the node's ledger around them.</summary>
public sealed class GpuPoolTests
{
    private static readonly ImmutableArray<GpuDevice> Devices =
    [
        new("0000:01:00.0", "NVIDIA Corporation", "GA100 [A100 PCIe 40GB]", 40960),
        new("0000:02:00.0", "NVIDIA Corporation", "AD102 [GeForce RTX 4090]", 24564),
        new("0000:03:00.0", "Advanced Micro Devices, Inc. [AMD/ATI]", "Navi 31 [Radeon RX 7900 XTX]", 24576),
    ];

    private static readonly Capacity Machine = new(16, 64L << 30, 1L << 40, 0);

    [Fact]
    public void PickTakesFreeMatchingGpusAndAnswersNullWhenTooFew()
    {
        Assert.Equal("0000:01:00.0", Pick([], 1, []));
        Assert.Equal("0000:02:00.0", Pick(["0000:01:00.0"], 1, []));
        Assert.Equal("0000:03:00.0", Pick([], 1, ["radeon"]));
        Assert.Equal("0000:02:00.0", Pick([], 1, ["RTX 4090", "A40"]));
        Assert.Equal("0000:01:00.0", Pick([], 1, ["nvidia a100"]));
        Assert.Equal("0000:01:00.0,0000:03:00.0", Pick(["0000:02:00.0"], 2, []));
        Assert.Null(Pick(["0000:01:00.0"], 1, ["A100"]));
        Assert.Null(Pick([], 1, ["intel"]));
        Assert.Null(Pick([], 4, []));
        Assert.Equal("", Pick([], 0, []));
    }

    [Fact]
    public void ANewEpochOnTheSameNodeKeepsItsGpus()
    {
        var picked = GpuPool.Pick(Devices, new HashSet<string>(), 1, [], ["0000:03:00.0"]);
        Assert.Equal(["0000:03:00.0"], picked!.Value.AsEnumerable());
    }

    [Fact]
    public void TheLedgerNeverGivesOneGpuToTwoReservationsAndFreesItOnRelease()
    {
        var capacity = new NodeCapacity(Machine, 1, []) { Gpus = Devices };
        Assert.Equal(3, capacity.Total.Gpu);
        var now = DateTimeOffset.UtcNow;
        var wanted = new Capacity(1, 1L << 30, 0, 0, 0, 2);

        // Two reservations of two GPUs each in one batch: the first gets two, the second is short of a GPU.
        var claim = capacity.TryAllocate([Request(1, wanted), Request(2, wanted)], now);
        Assert.Single(claim.Taken);
        Assert.Equal(CapacityUnit.Gpu, claim.Results[1]!.Shortfall);
        Assert.True(capacity.TryGet(1, out var first));
        Assert.Equal(2, first.GpuIds.Length);
        Assert.Equal(1, capacity.Free().Gpu);

        // One GPU left, taken by a third; nothing for a fourth.
        var one = new Capacity(1, 1L << 30, 0, 0, 0, 1);
        Assert.Single(capacity.TryAllocate([Request(3, one)], now).Taken);
        Assert.True(capacity.TryGet(3, out var third));
        Assert.Empty(first.GpuIds.Intersect(third.GpuIds));
        Assert.Empty(capacity.TryAllocate([Request(4, one)], now).Taken);
        Assert.All(capacity.AnnotatedGpus(), g => Assert.NotNull(g.ReservationId));

        // Released: its GPUs are free for the next.
        capacity.Release([new HeldPlacement(1, 1)]);
        Assert.Equal(2, capacity.Free().Gpu);
        Assert.Single(capacity.TryAllocate([Request(4, wanted)], now).Taken);
        Assert.True(capacity.TryGet(4, out var fourth));
        Assert.Equal(first.GpuIds.Order(), fourth.GpuIds.Order());
    }

    [Fact]
    public void ModelsChooseAmongTheFreeGpusAndTheirWorkloadsCarryTheIds()
    {
        var capacity = new NodeCapacity(Machine, 1, []) { Gpus = Devices };
        var workload = new WorkloadAssignment(7, 1, 1, new WorkloadSpec("w", WorkloadType.Process, Capacity.Zero, new ProcessSpec("sleep", [], ImmutableDictionary<string, string>.Empty)));
        var claim = capacity.TryAllocate([Request(1, new Capacity(1, 1L << 30, 0, 0, 0, 1), ["4090"], [workload])], DateTimeOffset.UtcNow);
        Assert.Single(claim.Taken);
        var desired = Assert.Single(capacity.Desired());
        Assert.Equal(["0000:02:00.0"], desired.GpuIds.AsEnumerable());

        // No second RTX 4090: refused for the GPU, though two other GPUs are free.
        var refused = capacity.TryAllocate([Request(2, new Capacity(1, 1L << 30, 0, 0, 0, 1), ["4090"])], DateTimeOffset.UtcNow);
        Assert.Equal(CapacityUnit.Gpu, refused.Results[0]!.Shortfall);
    }

    [Fact]
    public void TheFilterCountsOnlyFreeMatchingGpus()
    {
        var annotated = GpuPool.Annotate(Devices, [new Allocation(9, 1, 1, Capacity.Zero, [], null, [], DateTimeOffset.UtcNow) { GpuIds = ["0000:01:00.0"] }]);
        Assert.Equal(9, annotated[0].ReservationId);
        Assert.Equal(0, GpuPool.FreeMatching(annotated, ["A100"]));
        Assert.Equal(2, GpuPool.FreeMatching(annotated, []));

        var node = new NodeSummary(1, 1, 1, NodeStatus.Up, false, null, Machine with { Gpu = 3 }, Machine with { Gpu = 2 },
            new Location("Belgium", "Ghent"), NodeCertification.Diy, [], 1, Capacity.Zero) { Gpus = annotated };
        var a100 = new ReservationRequest(1, new Capacity(1, 1L << 30, 0, 0, 0, 1), PlacementConstraints.None with { GpuModels = ["A100"] }, PlacementStrategy.Binpack);
        Assert.Equal(PlacementFilter.NoMatchingGpu, PlacementFilter.Reject(node, a100, DateTimeOffset.UtcNow, null));
        Assert.Null(PlacementFilter.Reject(node, a100 with { Constraints = PlacementConstraints.None }, DateTimeOffset.UtcNow, null));
        Assert.Equal("insufficient gpu", PlacementFilter.Reject(node, a100 with { Resources = new Capacity(1, 1L << 30, 0, 0, 0, 3), Constraints = PlacementConstraints.None },
            DateTimeOffset.UtcNow, null));
    }

    private static string? Pick(string[] held, int count, ImmutableArray<string> models) =>
        GpuPool.Pick(Devices, held.ToHashSet(), count, models) is { } picked ? string.Join(",", picked) : null;

    private static AllocationRequest Request(long reservationId, Capacity resources, ImmutableArray<string> models = default, ImmutableArray<WorkloadAssignment> workloads = default) =>
        new(reservationId, 1, 1, resources, null, workloads.IsDefault ? [] : workloads) { GpuModels = models.IsDefault ? [] : models };
}
