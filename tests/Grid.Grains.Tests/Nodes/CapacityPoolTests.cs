using Grid.Nodes;

namespace Grid.Grains.Tests.Nodes;

/// <summary>Allocations of one size share one capacity object; what a node holds is unchanged. Each test has its own pool:
/// the silo's is shared by every test of the process.</summary>
public sealed class CapacityPoolTests
{
    [Fact]
    public void EqualSizesShareOneObject()
    {
        var pool = new CapacityPool();
        var size = new Capacity(3, 7L << 30, 11, 0, 1);

        var shared = pool.Share(size);

        Assert.Equal(size, shared);
        Assert.Same(shared, pool.Share(new Capacity(3, 7L << 30, 11, 0, 1)));
        Assert.NotSame(shared, pool.Share(new Capacity(3, 7L << 30, 11, 0, 2)));
    }

    [Fact]
    public void AFullPoolStartsAgainSoASizeCommonNowIsShared()
    {
        var pool = new CapacityPool(limit: 2);
        pool.Share(new Capacity(1, 1, 0, 0));
        pool.Share(new Capacity(2, 2, 0, 0));

        var now = pool.Share(new Capacity(3, 3, 0, 0));

        Assert.Same(now, pool.Share(new Capacity(3, 3, 0, 0)));
        Assert.Equal(new Capacity(1, 1, 0, 0), pool.Share(new Capacity(1, 1, 0, 0)));
    }

    [Fact]
    public void AnAllocationHoldsThePooledSize()
    {
        var node = new NodeCapacity(new Capacity(64, 64L << 30, 0, 0), 1.0, []) { Pool = new CapacityPool() };
        var size = new Capacity(2, 2L << 30, 0, 0);

        node.TryAllocate([Request(1, size), Request(2, new Capacity(2, 2L << 30, 0, 0))], DateTimeOffset.UnixEpoch);

        Assert.True(node.TryGet(1, out var first));
        Assert.True(node.TryGet(2, out var second));
        Assert.Same(first.Resources, second.Resources);
        Assert.Equal(new Capacity(4, 4L << 30, 0, 0), node.Used());
    }

    [Fact]
    public void AllocationsReadBackFromStorageShareTheirSizesAndStayEqual()
    {
        var read = new Dictionary<long, Allocation>
        {
            [1] = new(1, 1, 1, new Capacity(5, 5L << 30, 0, 0), [], null, [], DateTimeOffset.UnixEpoch),
            [2] = new(2, 3, 1, new Capacity(5, 5L << 30, 0, 0), [], "group", [], DateTimeOffset.UnixEpoch) { Priority = 7 },
        };
        var before = read.Values.ToList();

        var node = NodeCapacity.Over(new Capacity(64, 64L << 30, 0, 0), 1.0, read, 0, new CapacityPool());

        Assert.Equal(before, read.Values.ToList());
        Assert.Same(read[1].Resources, read[2].Resources);
        Assert.Equal(new Capacity(10, 10L << 30, 0, 0), node.Used());
    }

    private static AllocationRequest Request(long reservationId, Capacity size) => new(reservationId, 1, 1, size, null, []);
}
