namespace Grid.Bench;

/// <summary>
/// Grid time held still while a scenario sets the grid up (everything created at the same instant, so one cycle
/// later each meter has exactly one boundary behind it) and moved forward by the scenario; Orleans keeps its own clock.
/// </summary>
internal sealed class HeldTime : TimeProvider
{
    private long _ticks = System.GetUtcNow().UtcTicks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);
}
