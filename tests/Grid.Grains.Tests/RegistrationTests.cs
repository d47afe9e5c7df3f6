using Grid.Grains;

namespace Grid.Grains.Tests;

/// <summary>Registering farms and nodes: a flow that failed half-way is completed by its retry.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class RegistrationTests(SharedCluster cluster)
{
    private static readonly Capacity Machine = new(8, 8L << 30, 0, 0);

    [Fact]
    public async Task AFarmAndANodeWhoseRegistrationFailedHalfWayAreListedOnceTheFlowIsRetried()
    {
        var grid = cluster.Grid;
        var twinId = GridCluster.NewId();
        var twin = grid.Grains.GetGrain<ITwinGrain>(twinId);
        var farmId = GridCluster.NewId();
        var spec = new FarmSpec("farm", FarmCertification.NotCertified, [], 1.0);

        // The farm's own write fails after the owner listed it; the retry on the same id completes the flow.
        grid.Stall.Fail("farm");
        await Assert.ThrowsAnyAsync<Exception>(() => twin.CreateFarmAsync(farmId, spec));
        grid.Stall.Release();
        await twin.CreateFarmAsync(farmId, spec);
        await twin.CreateFarmAsync(farmId, spec);

        Assert.Equal(new[] { farmId }, await twin.GetFarmIdsAsync());
        Assert.NotNull(await grid.Grains.GetGrain<IFarmGrain>(farmId).GetAsync());

        var nodeId = GridCluster.NewId();
        var registration = new NodeRegistration(farmId, twinId, Machine, new Location("BE", "Ghent"), NodeCertification.Diy, "hash");
        var farm = grid.Grains.GetGrain<IFarmGrain>(farmId);
        grid.Stall.Fail("node");
        await Assert.ThrowsAnyAsync<Exception>(() => farm.RegisterNodeAsync(nodeId, registration));
        grid.Stall.Release();
        await farm.RegisterNodeAsync(nodeId, registration);
        var node = await farm.RegisterNodeAsync(nodeId, registration);

        Assert.Equal(nodeId, node.NodeId);
        Assert.Equal(new[] { nodeId }, (await farm.GetAsync())!.NodeIds);
    }
}
