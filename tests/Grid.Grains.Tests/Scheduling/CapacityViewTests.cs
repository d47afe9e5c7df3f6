using Grid.Scheduling;

namespace Grid.Grains.Tests.Scheduling;

/// <summary>The silo's replica of node summaries: the walks placement and the grid proxy make over it.</summary>
public sealed class CapacityViewTests
{
    [Fact]
    public void WalksSeeEveryNodeOnceWithItsNewestSummaryAsTheViewGrows()
    {
        var view = new CapacityView();
        for (var id = 1; id <= 100; id++)
        {
            view.Update(Node(id, version: 1));
        }

        view.Update(Node(7, version: 3));
        view.Update(Node(7, version: 2)); // older than the one known: ignored
        view.Update(Node(8, version: 1)); // the same version: ignored

        Assert.Equal(100, view.Count);
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), Ids(view.InsertionOrder));
        Assert.Equal(3, view.InsertionOrder[6].Version);
        Assert.Throws<ArgumentOutOfRangeException>(() => view.InsertionOrder[100]);

        // From any start, each node exactly once, wrapping around in insertion order.
        for (var walk = 0; walk < 20; walk++)
        {
            var seen = view.FromRandomStart().Select(n => n.NodeId).ToList();
            Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), seen.Order());
            var start = seen.IndexOf(1);
            Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), seen.Skip(start).Concat(seen.Take(start)));
        }

        Assert.Equal(3, view.FromRandomStart().Single(n => n.NodeId == 7).Version);
        Assert.Equal(100, view.Nodes.Count());
    }

    [Fact]
    public async Task AWalkTakenWhileNodesAreAddedSeesAPrefixOfThemAndNeverAGap()
    {
        var view = new CapacityView();
        const int Added = 20_000;
        var adding = Task.Run(() =>
        {
            for (var id = 1; id <= Added; id++)
            {
                view.Update(Node(id, version: 1));
            }
        });

        // A walk sees the nodes added before it started (a prefix of the insertion order), whatever is added meanwhile.
        var walks = 0;
        while (!adding.IsCompleted || walks == 0)
        {
            var order = view.InsertionOrder;
            var ids = Ids(order);
            Assert.Equal(Enumerable.Range(1, order.Count).Select(i => (long)i), ids);
            var sample = view.FromRandomStart().Select(n => n.NodeId).ToList();
            Assert.True(sample.Count >= order.Count, $"{sample.Count} < {order.Count}");
            Assert.Equal(sample.Count, sample.Distinct().Count());
            Assert.All(sample, id => Assert.InRange(id, 1, sample.Count));
            walks++;
        }

        await adding;
        Assert.Equal(Added, view.Count);
        Assert.Equal(Added, view.FromRandomStart().Count());
    }

    private static List<long> Ids(CapacityView.InsertionOrdered order) =>
        [.. Enumerable.Range(0, order.Count).Select(i => order[i].NodeId)];

    private static NodeSummary Node(long nodeId, long version) =>
        new(nodeId, 1, 9, NodeStatus.Up, false, null, Capacity.Zero, Capacity.Zero, new Location("BE", "Ghent"), NodeCertification.Diy, [], version, Capacity.Zero);
}
