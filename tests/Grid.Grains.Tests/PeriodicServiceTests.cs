using System.Collections.Concurrent;
using Grid.Hosting;
using Grid.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Grid.Grains.Tests;

/// <summary>The timer loop the replicators, the event feed and the grid proxy's services share, on a fake clock.</summary>
public sealed class PeriodicServiceTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task FirstStepComesOneIntervalAfterStartThenOneEachInterval()
    {
        var time = new FakeTimeProvider();
        var start = time.GetUtcNow();
        using var service = new Recorder(time, stepsAtStart: false);
        await service.StartAsync(CancellationToken.None);

        await AdvanceUntilAsync(time, () => service.Steps.Count >= 3, "three steps");
        await service.StopAsync(CancellationToken.None);

        // The clock may move on before a step reads it, so steps come no earlier than their tick, in order.
        var at = service.Steps.Select(s => s - start).ToArray();
        Assert.True(at[0] >= Interval, $"the first step ran {at[0]} after start");
        Assert.True(at[1] > at[0] && at[2] > at[1], string.Join(", ", at));
    }

    [Fact]
    public async Task StepsAtStartRunsTheFirstStepBeforeAnyTimePasses()
    {
        var time = new FakeTimeProvider();
        var start = time.GetUtcNow();
        using var service = new Recorder(time, stepsAtStart: true);
        await service.StartAsync(CancellationToken.None);

        await Poll.UntilAsync(() => !service.Steps.IsEmpty, Patience, "the first step");
        await AdvanceUntilAsync(time, () => service.Steps.Count >= 2, "the second step");
        await service.StopAsync(CancellationToken.None);

        var at = service.Steps.Select(s => s - start).ToArray();
        Assert.Equal(TimeSpan.Zero, at[0]);
        Assert.True(at[1] >= Interval, $"the second step ran {at[1]} after start");
    }

    [Fact]
    public async Task AFailedStepIsReportedWithItsExceptionAndTheNextTickTriesAgain()
    {
        var time = new FakeTimeProvider();
        var failure = new InvalidOperationException("the silo is starting");
        using var service = new Recorder(time, stepsAtStart: true, failFirst: failure);
        await service.StartAsync(CancellationToken.None);

        await AdvanceUntilAsync(time, () => service.Steps.Count >= 2, "a step after the failed one");
        await service.StopAsync(CancellationToken.None);

        Assert.Same(failure, Assert.Single(service.Failures));
        Assert.True(service.ExecuteTask!.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task StoppingEndsAStepInFlightQuietlyAndNoStepFollows()
    {
        var time = new FakeTimeProvider();
        using var service = new Recorder(time, stepsAtStart: true, hang: true);
        await service.StartAsync(CancellationToken.None);
        await Poll.UntilAsync(() => !service.Steps.IsEmpty, Patience, "the hanging step");

        await service.StopAsync(CancellationToken.None).WaitAsync(Patience);
        time.Advance(10 * Interval);

        Assert.True(service.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Empty(service.Failures);
        Assert.Single(service.Steps);
    }

    [Fact]
    public async Task StoppingBetweenStepsEndsTheLoopQuietly()
    {
        var time = new FakeTimeProvider();
        using var service = new Recorder(time, stepsAtStart: true);
        await service.StartAsync(CancellationToken.None);
        await Poll.UntilAsync(() => !service.Steps.IsEmpty, Patience, "the first step");

        await service.StopAsync(CancellationToken.None).WaitAsync(Patience);
        time.Advance(10 * Interval);

        // Completed, not cancelled: the wait cut short by the stop is no failure of the service.
        Assert.True(service.ExecuteTask!.IsCompletedSuccessfully, service.ExecuteTask.Status.ToString());
        Assert.Single(service.Steps);
    }

    /// <summary>Moves the fake clock one interval at a time (the loop may not have made its timer yet) until the condition holds.</summary>
    private static Task AdvanceUntilAsync(FakeTimeProvider time, Func<bool> condition, string what) =>
        Poll.UntilAsync(() =>
        {
            if (condition())
            {
                return true;
            }

            time.Advance(Interval);
            return false;
        }, Patience, what, maxPause: TimeSpan.FromMilliseconds(20));

    private sealed class Recorder(FakeTimeProvider time, bool stepsAtStart, Exception? failFirst = null, bool hang = false)
        : PeriodicService(time)
    {
        public ConcurrentQueue<DateTimeOffset> Steps { get; } = new();

        public ConcurrentQueue<Exception> Failures { get; } = new();

        protected override TimeSpan Interval => PeriodicServiceTests.Interval;

        protected override bool StepsAtStart => stepsAtStart;

        protected override async Task StepAsync(CancellationToken cancellationToken)
        {
            Steps.Enqueue(time.GetUtcNow());
            if (hang)
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            }

            if (Steps.Count == 1 && failFirst is not null)
            {
                throw failFirst;
            }
        }

        protected override void StepFailed(Exception exception) => Failures.Enqueue(exception);
    }
}
