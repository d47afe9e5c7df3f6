using System.Collections.Immutable;
using Grid.Nodes;

namespace Grid.Grains.Tests.Nodes;

/// <summary>The agent's long-poll and the version its heartbeats hold, on their own.</summary>
public sealed class DesiredWatchTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(10);

    [Fact]
    public void AWatchOfAnOutdatedVersionAnswersAtOnce()
    {
        var watch = new DesiredWatch();
        watch.Start(5L << 32);

        Assert.True(watch.WaitAsync((4L << 32) + 17, DesiredWatch.MaxWait).IsCompleted);
    }

    [Fact]
    public async Task AWatchOfTheCurrentVersionEndsWhenTheDesiredWorkloadsChange()
    {
        var watch = new DesiredWatch();
        watch.Start(1L << 32);
        var waiting = watch.WaitAsync(watch.Version, DesiredWatch.MaxWait);
        Assert.False(waiting.IsCompleted);

        watch.Changed();

        await waiting.WaitAsync(Guard);
        Assert.Equal((1L << 32) + 1, watch.Version);
    }

    [Fact]
    public async Task AWatchWithNoChangeEndsAfterItsWait()
    {
        var watch = new DesiredWatch();
        var waiting = watch.WaitAsync(watch.Version, TimeSpan.FromMilliseconds(50));

        await waiting.WaitAsync(Guard);
        Assert.Equal(0, watch.Version);
    }

    [Fact]
    public void AnAgentHoldingTheCurrentVersionIsAnsweredUnchangedAndOneHoldingAnotherIsNot()
    {
        var watch = new DesiredWatch();
        watch.Start(1L << 32);
        var desired = ImmutableArray.Create(Assignment(1), Assignment(2));

        var first = watch.Answer(desired, null);
        var held = watch.Answer(ImmutableArray.Create(desired[0], desired[1]), first.Version);
        var older = watch.Answer(desired, first.Version - 1);

        Assert.Equal((1L << 32, false), first);
        Assert.Equal((1L << 32, true), held);
        Assert.Equal((1L << 32, false), older);
    }

    [Fact]
    public void AnotherListAnsweredAtTheSameVersionTakesTheNextVersion()
    {
        // Written back after a failed write, or changed before its write: never "unchanged" to an agent that holds the first list.
        var watch = new DesiredWatch();
        watch.Start(1L << 32);
        var version = watch.Answer([Assignment(1), Assignment(2)], null).Version;

        var other = watch.Answer([Assignment(1)], version);
        var again = watch.Answer([Assignment(1)], other.Version);

        Assert.Equal((version + 1, false), other);
        Assert.Equal((version + 1, true), again);
    }

    [Fact]
    public void CopiesOfTheSameAssignmentsAreTheSameList()
    {
        // Credentials and GPUs are attached to copies on every answer.
        var watch = new DesiredWatch();
        var gpu = Assignment(3) with { GpuIds = ["0000:01:00.0"] };
        var version = watch.Answer([gpu], null).Version;

        Assert.Equal((version, true), watch.Answer([gpu with { }], version));
        Assert.Equal((version + 1, false), watch.Answer([gpu with { Epoch = 2 }], version));
    }

    private static WorkloadAssignment Assignment(long workloadId) =>
        new(workloadId, 100, 1, new WorkloadSpec($"w{workloadId}", WorkloadType.Vm, Capacity.Zero, null));
}
