using Grid.Scheduling;

namespace Grid.Grains.Tests.Scheduling;

/// <summary>A placement pass keeps its best nodes: nearest first for a near request, then by score, at most the capacity.</summary>
public sealed class ShortlistRankingTests
{
    [Fact]
    public void ThePrimaryKeyRanksFirstThenTheScoreAndOnlyTheBestAreKept()
    {
        var ranking = new ShortlistRanking(3);
        ranking.Insert(Node(1, farm: 1), primary: -500, score: 9);
        ranking.Insert(Node(2, farm: 1), primary: -100, score: 1);
        ranking.Insert(Node(3, farm: 2), primary: -100, score: 5);
        ranking.Insert(Node(4, farm: 2), primary: -900, score: 99);   // farther than all kept: not kept
        ranking.Insert(Node(5, farm: 3), primary: 0, score: 0);

        Assert.Equal([5L, 3, 2], ranking.Nodes.Select(n => n.NodeId));
        Assert.Equal(1, ranking.RemoveAll(n => n.FarmId == 2));
        Assert.Equal([5L, 2], ranking.Nodes.Select(n => n.NodeId));
        Assert.Equal(2, ranking.Count);
    }

    private static NodeSummary Node(long nodeId, long farm) =>
        new(nodeId, farm, 9, NodeStatus.Up, false, null, Capacity.Zero, Capacity.Zero, new Location("BE", "Ghent"), NodeCertification.Diy, [], 1, Capacity.Zero);
}
