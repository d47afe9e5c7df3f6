using Microsoft.Extensions.Options;

namespace Grid.Scheduling;

/// <summary>The cluster's one count of recent preemptions (key 0): <see cref="GridSchedulingOptions.MaxPreemptionsPerMinute"/>.</summary>
[Alias("grid.IPreemptionBrakeGrain")]
public interface IPreemptionBrakeGrain : IGrainWithIntegerKey
{
    /// <summary>Takes <paramref name="count"/> preemptions from the last minute's allowance; false (nothing taken) when they would exceed it.</summary>
    [Alias("TryTake")]
    Task<bool> TryTakeAsync(int count);
}

/// <summary>
/// A sliding one-minute window of preemptions. Soft state: a loss of its silo forgets the window, which errs towards
/// one more minute of preemptions, never towards refusing placements for good.
/// </summary>
public sealed class PreemptionBrakeGrain(GridClock clock, IOptions<GridSchedulingOptions> options) : Grain, IPreemptionBrakeGrain
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly Queue<(DateTimeOffset At, int Count)> _taken = new();
    private int _inWindow;

    public Task<bool> TryTakeAsync(int count)
    {
        var now = clock.UtcNow;
        while (_taken.TryPeek(out var oldest) && oldest.At <= now - Window)
        {
            _inWindow -= _taken.Dequeue().Count;
        }

        if (_inWindow + count > options.Value.MaxPreemptionsPerMinute)
        {
            return Task.FromResult(false);
        }

        _taken.Enqueue((now, count));
        _inWindow += count;
        return Task.FromResult(true);
    }
}
