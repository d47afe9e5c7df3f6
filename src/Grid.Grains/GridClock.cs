namespace Grid;

/// <summary>
/// The grid's own clock (heartbeat ages, rejoin delays, event times, brake pacing), kept apart from the
/// runtime's <see cref="TimeProvider"/> so tests can move grid time without moving Orleans' own timers.
/// </summary>
public sealed class GridClock(TimeProvider time)
{
    public TimeProvider Time { get; } = time;

    public DateTimeOffset UtcNow => Time.GetUtcNow();
}
