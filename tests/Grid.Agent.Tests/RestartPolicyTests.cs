using Grid.Agent.Reconciling;
using Grid.Agent.Runtimes;

namespace Grid.Agent.Tests;

/// <summary>The restart policy: exponential backoff on quick exits, no restart for refusals and memory-limit kills.</summary>
public sealed class RestartPolicyTests
{
    private static readonly RestartPolicy Policy = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(0, 0, 1)]      // first restart: the initial delay
    [InlineData(1, 1, 2)]      // a quick exit doubles it
    [InlineData(8, 5, 16)]
    [InlineData(32, 5, 60)]    // capped at the maximum
    [InlineData(60, 5, 60)]
    [InlineData(32, 59, 60)]
    [InlineData(32, 60, 1)]    // ran at least the maximum: starts over
    [InlineData(60, 3_600, 1)]
    public void BackoffDoublesPerQuickExitUpToItsMaximumAndStartsOverAfterALongRun(int previousSeconds, int ranSeconds, int expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), Policy.NextBackoff(TimeSpan.FromSeconds(previousSeconds), TimeSpan.FromSeconds(ranSeconds)));

    [Fact]
    public void AnExitPlansARestartAndSaysWhenAndWhy()
    {
        var history = new RestartHistory(Restarts: 2, Backoff: TimeSpan.FromSeconds(4), StartedAt: Now - TimeSpan.FromSeconds(3));

        var withCode = Policy.Decide(new WorkloadStatus(WorkloadCondition.Exited, ExitCode: 3), history, null, Now);
        Assert.Equal(new WorkloadOutcome(WorkloadState.Failed, "exited with code 3; restart 3 in 8s", Now + TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(8), WorkloadReasons.ExitCode), withCode);

        // An adopted process's exit code is unknown.
        Assert.StartsWith("exited; restart 3 in 8s", Policy.Decide(new WorkloadStatus(WorkloadCondition.Exited), history, null, Now).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AStartThatFailedIsRetriedFromTheInitialDelayWhenTheWorkloadNeverRan()
    {
        var outcome = Policy.Decide(new WorkloadStatus(WorkloadCondition.StartFailed, "no such file"), new RestartHistory(0, TimeSpan.Zero, default), null, Now);

        Assert.Equal(new WorkloadOutcome(WorkloadState.Failed, "could not start: no such file; restart 1 in 1s", Now + TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), WorkloadReasons.StartFailed), outcome);
    }

    [Fact]
    public void RefusedAndMemoryLimitKilledWorkloadsAreNeverRestarted()
    {
        var history = new RestartHistory(1, TimeSpan.FromSeconds(2), Now);

        var refused = Policy.Decide(new WorkloadStatus(WorkloadCondition.Refused, "not on the allow-list"), history, 64, Now);
        Assert.Equal(new WorkloadOutcome(WorkloadState.Failed, "not on the allow-list", null, TimeSpan.FromSeconds(2), WorkloadReasons.Refused), refused);

        var killed = Policy.Decide(new WorkloadStatus(WorkloadCondition.OomKilled), history, 33_554_432, Now);
        Assert.Equal(WorkloadState.Failed, killed.State);
        Assert.Null(killed.RestartAt);
        Assert.Equal("stopped by its memory limit: used more than the 33554432 bytes reserved (killed by the kernel)", killed.Message);
        Assert.Equal(WorkloadReasons.OomKilled, killed.Reason);
    }

    [Theory]
    [InlineData(ContainerRestart.Always, 0, WorkloadState.Failed, true)]
    [InlineData(ContainerRestart.Always, 2, WorkloadState.Failed, true)]
    [InlineData(ContainerRestart.OnFailure, 0, WorkloadState.Exited, false)]
    [InlineData(ContainerRestart.OnFailure, 2, WorkloadState.Failed, true)]
    [InlineData(ContainerRestart.Never, 0, WorkloadState.Exited, false)]
    [InlineData(ContainerRestart.Never, 2, WorkloadState.Failed, false)]
    public void AContainerRestartsAsItsPolicySays(ContainerRestart restart, int code, WorkloadState state, bool restarted)
    {
        var outcome = Policy.Decide(new WorkloadStatus(WorkloadCondition.Exited, ExitCode: code), new RestartHistory(0, TimeSpan.Zero, Now), null, Now, restart);

        Assert.Equal((state, restarted), (outcome.State, outcome.RestartAt is not null));
        Assert.Equal(code == 0 ? null : WorkloadReasons.ExitCode, outcome.Reason);
        Assert.Contains($"exited with code {code}", outcome.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARunningWorkloadHasNoMessageAndNoRestartPlanned() =>
        Assert.Equal(
            new WorkloadOutcome(WorkloadState.Running, null, null, TimeSpan.FromSeconds(2)),
            Policy.Decide(WorkloadStatus.Running, new RestartHistory(1, TimeSpan.FromSeconds(2), Now), null, Now));
}
