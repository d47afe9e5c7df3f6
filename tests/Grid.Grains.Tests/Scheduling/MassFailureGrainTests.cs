using Grid.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Grid.Grains.Tests.Scheduling;

/// <summary>The mass-failure brake's cluster-wide counts: what share of a farm's nodes went down.</summary>
public sealed class MassFailureGrainTests
{
    private static readonly Capacity Machine = new(8, 16L << 30, 0, 0);

    [Fact]
    public async Task TheBrakeCountsAFarmsNodesFromTheIndexNotFromTheSilosCopyOfIt()
    {
        // The index shards know a farm of four nodes that no silo's copy of the index has seen yet (the copies are
        // refreshed every hour here and a node grain publishes to its own silo's copy only: these four live in
        // the index alone), as on a silo that has just started and taken over the brake's grain.
        await using var grid = await GridCluster.StartAsync(("Grid:Index:RefreshInterval", "01:00:00"), ("Grid:Health:MassFailureShare", "0.5"));
        var farm = GridCluster.NewId();
        for (var i = 0; i < 4; i++)
        {
            // Down and empty: the shards' health scan leaves such a node alone.
            var nodeId = GridCluster.NewId() + i;
            await grid.Grains.GetGrain<ICapacityIndexGrain>(nodeId % 8).AddNodeAsync(new NodeSummary(nodeId, farm, 1, NodeStatus.Down, false, null,
                Machine, Machine, new Location("XD", "City"), NodeCertification.Diy, [], 1, Capacity.Zero));
        }

        var view = ((InProcessSiloHandle)grid.Cluster.Primary!).SiloHost.Services.GetRequiredService<CapacityView>();
        Assert.DoesNotContain(view.Nodes, n => n.FarmId == farm);

        var brake = grid.Grains.GetGrain<IMassFailureGrain>(0);
        var afterOne = await brake.RecordDownAsync(farm, "XD");
        await brake.RecordDownAsync(farm, "XD");
        var afterThree = await brake.RecordDownAsync(farm, "XD");

        // One of four is no mass failure; three of four (above half) is, for the farm and its country alike.
        Assert.Empty(afterOne);
        Assert.Equal(["country:XD", $"farm:{farm}"], afterThree.Order());
        Assert.Equal(TimeSpan.Zero, await brake.TakeMoveSlotAsync($"farm:{farm}"));
        Assert.True(await brake.TakeMoveSlotAsync($"farm:{farm}") > TimeSpan.Zero, "the second move out of a braked farm waits");
    }
}
