namespace Grid;

/// <summary>
/// Group commit for a <c>[Reentrant]</c> grain whose changes are applied synchronously: callers that change
/// state while a write is in flight share the next write instead of queueing one write each. A caller's
/// task completes only after a write that started after its change has finished, so its change is durable.
/// Grain turns never run in parallel, so no locking is needed.
/// </summary>
public sealed class WriteCoalescer(Func<Task> write)
{
    private Task? _inFlight;
    private TaskCompletionSource? _next;

    public Task WriteAsync()
    {
        if (_inFlight is null)
        {
            var run = RunAsync();

            // A write that completed synchronously has already run its finally (clearing _inFlight): remembering
            // its finished task would make every later caller wait for a next write that never starts.
            _inFlight = run.IsCompleted ? null : run;
            return run;
        }

        _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _next.Task;
    }

    private async Task RunAsync()
    {
        try
        {
            await write();
        }
        finally
        {
            var waiting = _next;
            _next = null;
            _inFlight = null;
            if (waiting is not null)
            {
                // One write for everyone who changed state while the previous write was in flight.
                var next = WriteAsync();
                _ = next.ContinueWith(
                    t => t.Exception is { } e ? waiting.TrySetException(e.InnerExceptions) : waiting.TrySetResult(),
                    CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Current);
            }
        }
    }
}
