using Grid.Reservations;
using S = Grid.ReservationState;
using T = Grid.Reservations.ReservationTrigger;

namespace Grid.Grains.Tests.Reservations;

/// <summary>
/// The reservation lifecycle, every step: each legal one leads where the grain has always taken it, and every other
/// pair of state and trigger is refused.
/// </summary>
public sealed class ReservationLifecycleTests
{
    /// <summary>The legal steps, written out by hand (not derived from the table under test).</summary>
    private static readonly Dictionary<(S From, T Trigger), S> Legal = new()
    {
        [(S.Pending, T.Placed)] = S.Active,

        [(S.Active, T.Cancel)] = S.Cancelled,
        [(S.Migrating, T.Cancel)] = S.Cancelled,
        [(S.Unschedulable, T.Cancel)] = S.Cancelled,
        [(S.Lost, T.Cancel)] = S.Cancelled,
        [(S.Grace, T.Cancel)] = S.Cancelled,

        [(S.Active, T.PinnedNodeDown)] = S.Lost,
        [(S.Migrating, T.PinnedNodeDown)] = S.Lost,
        [(S.Unschedulable, T.PinnedNodeDown)] = S.Lost,

        [(S.Active, T.NoNodeFits)] = S.Unschedulable,
        [(S.Migrating, T.NoNodeFits)] = S.Unschedulable,
        [(S.Unschedulable, T.NoNodeFits)] = S.Unschedulable,
        [(S.Lost, T.NoNodeFits)] = S.Unschedulable,

        [(S.Active, T.Moved)] = S.Active,
        [(S.Migrating, T.Moved)] = S.Active,
        [(S.Unschedulable, T.Moved)] = S.Active,
        [(S.Lost, T.Moved)] = S.Active,
        [(S.Grace, T.Moved)] = S.Grace,

        [(S.Active, T.MovedBeforeBreak)] = S.Migrating,
        [(S.Migrating, T.MovedBeforeBreak)] = S.Migrating,
        [(S.Unschedulable, T.MovedBeforeBreak)] = S.Migrating,
        [(S.Lost, T.MovedBeforeBreak)] = S.Migrating,

        [(S.Migrating, T.MigrationDone)] = S.Active,
        [(S.Active, T.Unpaid)] = S.Grace,
        [(S.Grace, T.Funded)] = S.Active,
        [(S.Lost, T.NodeReturned)] = S.Active,
        [(S.Unschedulable, T.NodeReturned)] = S.Active,

        [(S.Active, T.Preempt)] = S.Preempted,
        [(S.Migrating, T.Preempt)] = S.Preempted,
        [(S.Preempted, T.Cancel)] = S.Cancelled,
        [(S.Preempted, T.Moved)] = S.Active,
    };

    public static TheoryData<S, T> EveryStep()
    {
        var steps = new TheoryData<S, T>();
        foreach (var state in Enum.GetValues<S>())
        {
            foreach (var trigger in Enum.GetValues<T>())
            {
                steps.Add(state, trigger);
            }
        }

        return steps;
    }

    [Theory]
    [MemberData(nameof(EveryStep))]
    public void EachStepIsLegalExactlyWhereExpectedAndLeadsWhereExpected(S from, T trigger)
    {
        if (Legal.TryGetValue((from, trigger), out var to))
        {
            Assert.True(ReservationLifecycle.Allows(from, trigger));
            Assert.Equal(to, ReservationLifecycle.Next(from, trigger));
            Assert.Equal(to, ReservationLifecycle.Fire(from, trigger));
        }
        else
        {
            Assert.False(ReservationLifecycle.Allows(from, trigger));
            Assert.Null(ReservationLifecycle.Next(from, trigger));
            var refused = Assert.Throws<InvalidOperationException>(() => ReservationLifecycle.Fire(from, trigger));
            Assert.Contains(trigger.ToString(), refused.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheTableListsExactlyTheLegalSteps() =>
        Assert.Equal(
            Legal.Select(step => (step.Key.From, step.Key.Trigger, To: step.Value)).Order(),
            ReservationLifecycle.LegalSteps.Order());

    [Fact]
    public void CancelledIsFinalAndEveryPlacedStateCanBeCancelled()
    {
        Assert.All(Enum.GetValues<T>(), trigger => Assert.False(ReservationLifecycle.Allows(S.Cancelled, trigger)));
        Assert.All(Enum.GetValues<S>().Except([S.Pending, S.Cancelled]),
            state => Assert.Equal(S.Cancelled, ReservationLifecycle.Next(state, T.Cancel)));
    }

    [Fact]
    public void OnlyAPaymentOrTheCancelEndsGrace()
    {
        var leaving = Enum.GetValues<T>().Where(trigger => ReservationLifecycle.Next(S.Grace, trigger) is { } to && to != S.Grace);
        Assert.Equal([T.Cancel, T.Funded], leaving.Order());
    }

    [Fact]
    public void EveryStateButPendingIsReachedFromPlacement()
    {
        var reached = new HashSet<S> { S.Pending };
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var (from, _, to) in ReservationLifecycle.LegalSteps)
            {
                grew |= reached.Contains(from) && reached.Add(to);
            }
        }

        Assert.Equal(Enum.GetValues<S>().Order(), reached.Order());
    }
}
