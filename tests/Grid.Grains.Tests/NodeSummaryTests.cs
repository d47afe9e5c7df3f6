using Grid.Grains;
using Grid.Testing;

namespace Grid.Grains.Tests;

/// <summary>A node's summary, as its shard of the capacity index and every silo's view see it: versions and status changes.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class NodeSummaryTests(SharedCluster cluster)
{
    private static readonly Capacity Machine = new(8, 8L << 30, 0, 0);
    private static readonly Capacity Node = new(64, 64L << 30, 0, 0);

    [Fact]
    public async Task SummaryVersionsGrowAcrossActivationsWhateverTheHostsClock()
    {
        var grid = cluster.Grid;
        var twin = GridCluster.NewId();
        var node = grid.Grains.GetGrain<INodeGrain>(await grid.RegisterNodeAsync(await grid.CreateFarmAsync(twin), twin, Machine));
        var before = (await node.GetSummaryAsync())!.Version;

        // A failed write drops the activation; the next call activates the node again (on any silo, any clock).
        grid.Stall.Fail("node");
        await Assert.ThrowsAnyAsync<Exception>(() => node.SetDrainingAsync(true, 1));
        grid.Stall.Release();
        var after = (await node.GetSummaryAsync())!.Version;

        Assert.True(after > before, $"version {after} after re-activation is not above {before}");
        // Not derived from the hosting silo's wall clock (ticks are ~6e17): a silo whose clock is behind would
        // otherwise publish versions every view and shard ignores.
        Assert.True(after < 1L << 48, $"version {after} looks like clock ticks");
    }

    [Fact]
    public async Task AStatusChangeThatNeverReachedTheIndexIsFetchedAtTheNextHeartbeat()
    {
        var grid = cluster.Grid;
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var node = await grid.RegisterNodeAsync(farm, twin, Node, heartbeat: false);
        var shard = grid.Grains.GetGrain<ICapacityIndexGrain>(node % 8);

        // The node comes up, but its summary's one-way update to its shard is lost (as while silos join).
        grid.Drop.Arm(nameof(ICapacityIndexGrain.UpdateAsync));
        await grid.BeatAsync(node);
        grid.Drop.Disarm();
        Assert.True(grid.Drop.Dropped > 0);
        Assert.Equal(NodeStatus.Up, (await StatusesAsync(grid, [node]))[0]);

        // Every silo's view copies the shard, where the node would stay down for good (no placements, no detection).
        await grid.BeatAsync(node);
        await Poll.UntilAsync(async () => (await shard.GetChangesAsync(0, 0)).Nodes.Single(n => n.NodeId == node).Status == NodeStatus.Up, TimeSpan.FromSeconds(20),
            "the shard knows the node is up");
    }

    private static async Task<NodeStatus[]> StatusesAsync(GridCluster grid, IEnumerable<long> nodes) =>
        (await Task.WhenAll(nodes.Select(n => grid.Grains.GetGrain<INodeGrain>(n).GetAsync()))).Select(n => n!.Status).ToArray();
}
