using Grid.Nodes;

namespace Grid.Grains.Tests.Nodes;

/// <summary>When a down or draining node's moves may be resumed.</summary>
public sealed class EvacuationPacingTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Recheck = TimeSpan.FromSeconds(5);

    [Fact]
    public void AFreshActivationResumesAtOnceThenEachResumeWaitsTwiceAsLongUpToAMinute()
    {
        var pacing = new EvacuationPacing(Recheck);
        var at = Now;
        Assert.True(pacing.TryResume(at));

        var waits = new List<double>();
        for (var i = 0; i < 7; i++)
        {
            var next = NextResume(pacing, at);
            waits.Add((next - at).TotalSeconds);
            at = next;
        }

        Assert.Equal([5, 10, 20, 40, 60, 60, 60], waits);
    }

    [Fact]
    public void ARunStartedOnItsOwnDefersResumingByOneRecheckAndAStatusChangeRestartsTheDoubling()
    {
        var pacing = new EvacuationPacing(Recheck);
        Assert.True(pacing.TryResume(Now));
        Assert.True(pacing.TryResume(Now + Recheck));

        pacing.Reset();
        pacing.Started(Task.FromResult(0), Now + Recheck, resumed: false);

        Assert.False(pacing.TryResume(Now + Recheck + Recheck - TimeSpan.FromTicks(1)));
        Assert.True(pacing.TryResume(Now + Recheck + Recheck));
        Assert.Equal(Now + Recheck * 3, NextResume(pacing, Now + Recheck * 2));
    }

    [Fact]
    public void NoRunIsResumedWhileOneIsUnderWay()
    {
        var pacing = new EvacuationPacing(Recheck);
        var run = new TaskCompletionSource<int>();
        pacing.Started(run.Task, Now, resumed: true);

        Assert.True(pacing.IsRunning);
        Assert.False(pacing.TryResume(Now + TimeSpan.FromHours(1)));

        run.SetResult(0);
        Assert.True(pacing.TryResume(Now + TimeSpan.FromHours(1)));
    }

    [Fact]
    public void ARunWithFailedMovesIsResumedOneRecheckAfterItStartedAndTheDoublingStartsAgain()
    {
        var pacing = new EvacuationPacing(Recheck);
        var at = Now;
        Assert.True(pacing.TryResume(at));
        for (var i = 0; i < 4; i++)
        {
            at = NextResume(pacing, at);
        }

        // Backed off to 40 s by runs that left allocations behind by design; this one left them because a move failed.
        pacing.Started(Task.FromResult(1), at, resumed: true);
        Assert.Equal(at + Recheck, NextResume(pacing, at));
        Assert.Equal(at + Recheck * 2, NextResume(pacing, at + Recheck));
        Assert.Equal(at + Recheck * 4, NextResume(pacing, at + Recheck * 2));
    }

    /// <summary>The first second after <paramref name="from"/> at which a resume is allowed (and taken).</summary>
    private static DateTimeOffset NextResume(EvacuationPacing pacing, DateTimeOffset from)
    {
        var at = from;
        while (!pacing.TryResume(at))
        {
            at += TimeSpan.FromSeconds(1);
        }

        return at;
    }
}
