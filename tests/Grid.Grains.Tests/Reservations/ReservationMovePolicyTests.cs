using Grid.Reservations;
using A = Grid.Reservations.ReservationMoveAction;
using S = Grid.ReservationState;

namespace Grid.Grains.Tests.Reservations;

/// <summary>What a reservation asked to leave a node does, the epoch a stale holder drops, and the retries' waits.</summary>
public sealed class ReservationMovePolicyTests
{
    private const long Asked = 7;
    private const long Other = 8;

    [Theory]
    [InlineData(S.Active, Asked, null, false, A.Move)]
    [InlineData(S.Unschedulable, Asked, null, false, A.Move)]
    [InlineData(S.Grace, Asked, null, false, A.Move)]
    [InlineData(S.Migrating, Asked, Other, false, A.Move)]
    [InlineData(S.Active, Asked, null, true, A.StayPinned)]
    [InlineData(S.Lost, Asked, null, true, A.StayPinned)]
    [InlineData(S.Migrating, Other, Asked, false, A.AwaitMigration)]
    [InlineData(S.Migrating, Other, Asked, true, A.AwaitMigration)]
    [InlineData(S.Active, Other, null, false, A.ReleaseStale)]
    [InlineData(S.Migrating, Other, 9L, false, A.ReleaseStale)]
    [InlineData(S.Cancelled, Asked, null, false, A.ReleaseStale)]
    [InlineData(S.Cancelled, Asked, null, true, A.ReleaseStale)]
    [InlineData(S.Cancelled, Other, Asked, false, A.ReleaseStale)]
    public void TheAskedNodesPlaceInTheRecordDecidesTheMove(S state, long node, long? previous, bool pinned, A expected)
    {
        var record = Record(state, node, previous, pinned, epoch: 3);

        Assert.Equal(expected, ReservationMovePolicy.Decide(record, Asked));
    }

    [Theory]
    [InlineData(S.Active, 5)]
    [InlineData(S.Migrating, 5)]
    [InlineData(S.Cancelled, 5)]
    public void AHolderThatIsNeitherItsCurrentNorItsPreviousNodeDropsTheCurrentEpoch(S state, long expected)
    {
        var record = Record(state, Other, previous: null, pinned: false, epoch: 5);

        Assert.Equal(expected, ReservationMovePolicy.StaleEpoch(record));
    }

    [Fact]
    public void EachRetryWaitsTwiceAsLongUpToAMinute()
    {
        var waits = Enumerable.Range(0, 8).Select(retries => ReservationMovePolicy.RetryBackoff(TimeSpan.FromSeconds(2), retries).TotalSeconds);

        Assert.Equal([2, 4, 8, 16, 32, 60, 60, 60], waits);
    }

    [Fact]
    public void TheDoublingStopsAfterTenRetriesAndNeverOverflows()
    {
        var first = TimeSpan.FromMilliseconds(1);

        Assert.Equal(TimeSpan.FromMilliseconds(1024), ReservationMovePolicy.RetryBackoff(first, 10));
        Assert.Equal(TimeSpan.FromMilliseconds(1024), ReservationMovePolicy.RetryBackoff(first, 11));
        Assert.Equal(ReservationMovePolicy.MaxBackoff, ReservationMovePolicy.RetryBackoff(TimeSpan.FromSeconds(2), int.MaxValue));
    }

    private static ReservationRecord Record(S state, long node, long? previous, bool pinned, long epoch) => new()
    {
        Request = new ReservationRequest(1, new Capacity(1, 1, 0, 0, 0),
            PlacementConstraints.None with { NodeId = pinned ? node : null }, PlacementStrategy.Binpack),
        State = state,
        NodeId = node,
        PreviousNodeId = previous,
        Epoch = epoch,
    };
}
