using System.Diagnostics;

namespace Grid.Testing;

/// <summary>Waiting for a condition with a deadline instead of sleeping a fixed time.</summary>
public static class Poll
{
    /// <summary>
    /// Evaluates <paramref name="condition"/> until it returns <see langword="true"/>, checking often at
    /// first and less often later, and throws <see cref="TimeoutException"/> naming <paramref name="what"/>
    /// when <paramref name="timeout"/> passes first. Exceptions of the condition propagate.
    /// </summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
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
            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 500));
        }
    }

    /// <summary>Synchronous-condition form of <see cref="UntilAsync(Func{Task{bool}}, TimeSpan, string)"/>.</summary>
    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return UntilAsync(() => Task.FromResult(condition()), timeout, what);
    }
}
