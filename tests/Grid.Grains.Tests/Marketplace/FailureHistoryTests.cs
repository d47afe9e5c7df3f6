using Grid.Workloads;

namespace Grid.Grains.Tests.Marketplace;

/// <summary>Where a workload failed, by reason: a failure met the same way on another node is the tenant's.</summary>
public sealed class FailureHistoryTests
{
    [Fact]
    public void AFailureOfTheSameReasonOnAnotherNodeIsElsewhere()
    {
        var failedOn = new Dictionary<string, List<long>>();
        Assert.True(FailureHistory.Record(failedOn, 1, Failed(WorkloadReasons.StartFailed)));
        Assert.False(FailureHistory.Record(failedOn, 1, Failed(WorkloadReasons.StartFailed) with { Restarts = 3 }));   // known already

        // Node 1's own failure is not "elsewhere" for node 1; for node 2 it is, for that reason only.
        Assert.False(FailureHistory.FailedElsewhere(failedOn, 1, WorkloadReasons.StartFailed));
        Assert.True(FailureHistory.FailedElsewhere(failedOn, 2, WorkloadReasons.StartFailed));
        Assert.False(FailureHistory.FailedElsewhere(failedOn, 2, WorkloadReasons.NoSpace));
        Assert.False(FailureHistory.FailedElsewhere(failedOn, 2, null));

        // Once node 2 failed the same way, node 1's failure has been met elsewhere too.
        Assert.True(FailureHistory.Record(failedOn, 2, Failed(WorkloadReasons.StartFailed)));
        Assert.True(FailureHistory.FailedElsewhere(failedOn, 1, WorkloadReasons.StartFailed));

        // A failure without a reason is a reason of its own; a running workload records nothing.
        Assert.True(FailureHistory.Record(failedOn, 3, Failed(null)));
        Assert.True(FailureHistory.FailedElsewhere(failedOn, 4, null));
        Assert.False(FailureHistory.Record(failedOn, 5, new WorkloadReport(1, 1, WorkloadState.Running)));
        Assert.False(FailureHistory.FailedElsewhere(failedOn, 3, null));
    }

    [Fact]
    public void TheHistoryIsBounded()
    {
        var failedOn = new Dictionary<string, List<long>>();
        for (var node = 1; node <= FailureHistory.MaxNodesPerReason + 2; node++)
        {
            FailureHistory.Record(failedOn, node, Failed(WorkloadReasons.StartFailed));
        }

        for (var reason = 0; reason < FailureHistory.MaxReasons + 5; reason++)
        {
            FailureHistory.Record(failedOn, 1, Failed($"reason-{reason}"));
        }

        Assert.Equal(FailureHistory.MaxNodesPerReason, failedOn[WorkloadReasons.StartFailed].Count);
        Assert.Equal(FailureHistory.MaxReasons, failedOn.Count);
    }

    private static WorkloadReport Failed(string? reason) => new(1, 1, WorkloadState.Failed) { Reason = reason };
}
