using System.Diagnostics;

namespace Grid.Testing;

/// <summary>
/// The one way tests wait: for a condition with a deadline (<see cref="UntilAsync(Func{Task{bool}}, TimeSpan, string, TimeSpan?)"/>),
/// or for a condition to keep holding (<see cref="StaysAsync(Func{Task{bool}}, TimeSpan, string, TimeSpan?)"/>), never for a
/// fixed time in the hope that something happened meanwhile.
/// </summary>
public static class Poll
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan LongestPause = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Evaluates <paramref name="condition"/> until it returns <see langword="true"/> and throws
    /// <see cref="TimeoutException"/> naming <paramref name="what"/> when <paramref name="timeout"/> passes first.
    /// Exceptions of the condition propagate. The pause between checks is a tenth of the time waited so far, and no
    /// shorter than the last check took, between 20 ms and <paramref name="maxPause"/> (default 500 ms): a condition
    /// that turns true soon is seen within milliseconds (in-process grains answer at once), one that takes long is
    /// not asked more than needed (a multi-process cluster under load, a check reading a thousand reservations), and
    /// the wait overshoots the condition by about a tenth at most. A caller that measures how soon something happened,
    /// or must act right after, passes a short <paramref name="maxPause"/> (which wins over the 20 ms).
    /// </summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? maxPause = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        var longest = maxPause ?? LongestPause;
        while (true)
        {
            var checkedAt = clock.Elapsed;
            if (await condition())
            {
                return;
            }

            if (clock.Elapsed >= timeout)
            {
                throw new TimeoutException($"Gave up after {timeout.TotalSeconds:0.#} s waiting for {what}.");
            }

            var pause = TimeSpan.FromTicks(Math.Max(clock.Elapsed.Ticks / 10, (clock.Elapsed - checkedAt).Ticks));
            await Task.Delay(pause > longest ? longest : pause < FirstPause ? FirstPause : pause);
        }
    }

    /// <summary>Synchronous-condition form of <see cref="UntilAsync(Func{Task{bool}}, TimeSpan, string, TimeSpan?)"/>.</summary>
    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, TimeSpan? maxPause = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return UntilAsync(() => Task.FromResult(condition()), timeout, what, maxPause);
    }

    /// <summary>
    /// Asserts that <paramref name="condition"/> keeps holding for <paramref name="duration"/> of real time, checked
    /// every <paramref name="pause"/> (default 20 ms): for what must not happen after an event whose wrong outcome
    /// would show within that time (a move, a status change, a stranger joining a cluster). Throws
    /// <see cref="InvalidOperationException"/> naming <paramref name="what"/> the first time it does not hold.
    /// </summary>
    public static async Task StaysAsync(Func<Task<bool>> condition, TimeSpan duration, string what, TimeSpan? pause = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        do
        {
            if (!await condition())
            {
                throw new InvalidOperationException($"No longer true after {clock.Elapsed.TotalSeconds:0.###} s: {what}.");
            }

            await Task.Delay(pause ?? FirstPause);
        }
        while (clock.Elapsed < duration);
    }

    /// <summary>Synchronous-condition form of <see cref="StaysAsync(Func{Task{bool}}, TimeSpan, string, TimeSpan?)"/>.</summary>
    public static Task StaysAsync(Func<bool> condition, TimeSpan duration, string what, TimeSpan? pause = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return StaysAsync(() => Task.FromResult(condition()), duration, what, pause);
    }
}
