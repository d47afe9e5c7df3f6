namespace Grid.Nodes;

/// <summary>
/// When a down or draining node may start its moves again: one run at a time, and resumed runs back off. A fresh
/// activation (the silo that ran the moves is gone) may resume at once; a run started on its own (down, drain)
/// defers resuming by one recheck interval; then each resumed run doubles the wait, from the recheck interval up to
/// <see cref="MaxBackoff"/>, while allocations stay (pinned reservations wait for their node, unschedulable ones
/// retry on their own). A run in which moves or releases failed (a silo lost mid-way, a reservation out of reach
/// until the cluster notices) is not such a case: it may be resumed one recheck interval after it started, and the
/// doubling starts again, so a lost node's last allocations do not wait a minute for a failure long over.
/// </summary>
/// <param name="recheck">The shortest wait (the index shard's recheck interval).</param>
public sealed class EvacuationPacing(TimeSpan recheck)
{
    /// <summary>The longest wait between resumed runs.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(60);

    private DateTimeOffset _next;
    private DateTimeOffset _started;
    private TimeSpan _backoff;
    private Task<int>? _running;

    /// <summary>True while the last run started has moves under way.</summary>
    public bool IsRunning => _running is { IsCompleted: false };

    /// <summary>The node's status changed: the next resumed run starts the doubling again.</summary>
    public void Reset() => _backoff = TimeSpan.Zero;

    /// <summary>
    /// A run started (<paramref name="resumed"/> by <see cref="TryResume"/>, or on its own); <paramref name="run"/>
    /// ends with the number of its moves and releases that failed.
    /// </summary>
    public void Started(Task<int> run, DateTimeOffset now, bool resumed)
    {
        _started = now;
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
        var failed = _running is { IsCompletedSuccessfully: true, Result: > 0 };
        if (IsRunning || now < (failed ? _started + recheck : _next))
        {
            return false;
        }

        if (failed)
        {
            _backoff = TimeSpan.Zero;
            _running = null;
        }

        _backoff = _backoff < recheck ? recheck : _backoff * 2 < MaxBackoff ? _backoff * 2 : MaxBackoff;
        _next = now + _backoff;
        return true;
    }
}
