using System.Diagnostics;

namespace Grid.Testing;

/// <summary>Waiting for a condition with a deadline instead of sleeping a fixed time.</summary>
public static class Poll
{
    /// <summary>
    /// Evaluates <paramref name="condition"/> until it returns <see langword="true"/>, checking often at
    /// first and less often later, and throws <see cref="TimeoutException"/> naming <paramref name="what"/>
    /// when <paramref name="timeout"/> passes first. Exceptions of the condition propagate. Pauses grow from 20 ms
    /// up to <paramref name="maxPause"/> (default 500 ms): a caller that must act right after the condition turns
    /// true passes a short one.
    /// </summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? maxPause = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (clock.Elapsed >= timeout)
            {
                throw new TimeoutException($"Gave up after {timeout.TotalSeconds:0.#} s waiting for {what}.");
            }

            await Task.Delay(pause);
            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, (maxPause ?? TimeSpan.FromMilliseconds(500)).TotalMilliseconds));
        }
    }

    /// <summary>Synchronous-condition form of <see cref="UntilAsync(Func{Task{bool}}, TimeSpan, string, TimeSpan?)"/>.</summary>
    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, TimeSpan? maxPause = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return UntilAsync(() => Task.FromResult(condition()), timeout, what, maxPause);
    }
}
