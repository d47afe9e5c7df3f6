using Grid.Nodes;

namespace Grid.Grains.Tests.Marketplace;

/// <summary>Which failures count against a node, once per workload and epoch, within a sliding window.</summary>
public sealed class QuarantineCounterTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(WorkloadReasons.ImagePullFailed, false)]
    [InlineData(WorkloadReasons.DigestMismatch, false)]
    [InlineData(WorkloadReasons.NotAnImage, false)]
    [InlineData(WorkloadReasons.NoSuchEntrypoint, false)]
    [InlineData(WorkloadReasons.ExitCode, false)]
    [InlineData(WorkloadReasons.OomKilled, false)]
    [InlineData(WorkloadReasons.Refused, false)]
    [InlineData(WorkloadReasons.Unsupported, false)]
    [InlineData(WorkloadReasons.FeatureMissing, false)]
    [InlineData(WorkloadReasons.StartFailed, true)]
    [InlineData(WorkloadReasons.NoSpace, true)]
    [InlineData(WorkloadReasons.VolumeMissing, true)]
    [InlineData(null, true)]
    public void TenantCausedReasonsDoNotCountAgainstTheNode(string? reason, bool counts) =>
        Assert.Equal(counts, FailureBlame.CountsAgainstNode(reason));

    [Fact]
    public void EachWorkloadCountsOncePerEpochAndTheThresholdQuarantines()
    {
        var counter = new QuarantineCounter(3, TimeSpan.FromMinutes(10));
        Assert.Equal(1, counter.Observe([Failed(1, WorkloadReasons.StartFailed)], Start));

        // The same workload failing again at the same epoch (a crash-loop of one workload) is still one failure.
        Assert.Equal(0, counter.Observe([Failed(1, WorkloadReasons.StartFailed) with { Restarts = 5 }], Start.AddSeconds(5)));

        // The tenant's own failures and healthy workloads count nothing.
        Assert.Equal(0, counter.Observe([Failed(2, WorkloadReasons.ExitCode), Failed(3, WorkloadReasons.ImagePullFailed),
            new WorkloadReport(4, 1, WorkloadState.Running)], Start.AddSeconds(6)));
        Assert.False(counter.Reached(Start.AddSeconds(6)));

        // A restart after failing to start counts (crash-loop); then a third workload reaches the threshold.
        Assert.Equal(1, counter.Observe([new WorkloadReport(5, 1, WorkloadState.Running, Restarts: 2) { Reason = WorkloadReasons.StartFailed }], Start.AddSeconds(7)));
        Assert.Equal(1, counter.Observe([Failed(6, null)], Start.AddSeconds(8)));
        Assert.True(counter.Reached(Start.AddSeconds(8)));
        Assert.Equal(3, counter.Recent(Start.AddSeconds(8)));
    }

    [Fact]
    public void FailuresLeaveTheWindowAndClearStartsOver()
    {
        var counter = new QuarantineCounter(2, TimeSpan.FromMinutes(1));
        counter.Observe([Failed(1, WorkloadReasons.NoSpace)], Start);
        counter.Observe([Failed(2, WorkloadReasons.NoSpace)], Start.AddSeconds(30));
        Assert.Equal(2, counter.Recent(Start.AddSeconds(59)));
        Assert.Equal(1, counter.Recent(Start.AddSeconds(61)));
        Assert.Equal(0, counter.Recent(Start.AddSeconds(91)));

        // Once the window is empty the same workload may count again when it fails again.
        Assert.Equal(1, counter.Observe([Failed(1, WorkloadReasons.NoSpace)], Start.AddSeconds(92)));
        counter.Clear();
        Assert.Equal(0, counter.Recent(Start.AddSeconds(92)));
        Assert.Equal(1, counter.Observe([Failed(1, WorkloadReasons.NoSpace)], Start.AddSeconds(93)));
    }

    [Fact]
    public void ANewEpochOfTheSameWorkloadIsANewFailure()
    {
        var counter = new QuarantineCounter(2, TimeSpan.FromMinutes(10));
        counter.Observe([Failed(1, WorkloadReasons.StartFailed)], Start);
        counter.Observe([Failed(1, WorkloadReasons.StartFailed) with { Epoch = 2 }], Start.AddSeconds(1));
        Assert.True(counter.Reached(Start.AddSeconds(1)));
    }

    private static WorkloadReport Failed(long workloadId, string? reason) =>
        new(workloadId, 1, WorkloadState.Failed) { Reason = reason };
}
