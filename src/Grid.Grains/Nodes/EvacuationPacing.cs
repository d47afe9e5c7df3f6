namespace Grid.Nodes;

/// <summary>
/// When a down or draining node may start its moves again: one run at a time, and resumed runs back off. A fresh
/// activation (the silo that ran the moves is gone) may resume at once; a run started on its own (down, drain)
/// defers resuming by one recheck interval; then each resumed run doubles the wait, from the recheck interval up to
/// <see cref="MaxBackoff"/>, while allocations stay (pinned reservations wait for their node, unschedulable ones
/// retry on their own).
/// </summary>
/// <param name="recheck">The shortest wait (the index shard's recheck interval).</param>
public sealed class EvacuationPacing(TimeSpan recheck)
{
    /// <summary>The longest wait between resumed runs.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(60);

    private DateTimeOffset _next;
    private TimeSpan _backoff;
    private Task? _running;

    /// <summary>True while the last run started has moves under way.</summary>
    public bool IsRunning => _running is { IsCompleted: false };

    /// <summary>The node's status changed: the next resumed run starts the doubling again.</summary>
    public void Reset() => _backoff = TimeSpan.Zero;

    /// <summary>A run started (<paramref name="resumed"/> by <see cref="TryResume"/>, or on its own).</summary>
    public void Started(Task run, DateTimeOffset now, bool resumed)
    {
        if (!resumed)
        {
            // The shard's checks resume the moves only if this run is lost (silo gone) or leaves some behind.
            _next = now + recheck;
        }

        _running = run;
    }

    /// <summary>True when a resumed run may start now (none running, its wait is over); the next one waits longer.</summary>
    public bool TryResume(DateTimeOffset now)
    {
        if (IsRunning || now < _next)
        {
            return false;
        }

        _backoff = _backoff < recheck ? recheck : _backoff * 2 < MaxBackoff ? _backoff * 2 : MaxBackoff;
        _next = now + _backoff;
        return true;
    }
}
