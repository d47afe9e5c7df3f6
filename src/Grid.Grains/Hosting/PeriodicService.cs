using Microsoft.Extensions.Hosting;

namespace Grid.Hosting;

/// <summary>
/// A background service that runs one step every <see cref="Interval"/> on <paramref name="time"/>'s clock (and,
/// with <see cref="StepsAtStart"/>, once at start). A failed step is handed to <see cref="StepFailed"/> and the next
/// tick tries again: the silo may be starting, failing over, or its database restarting. Stopping the host ends the
/// loop quietly, a step it cut short included.
/// </summary>
public abstract class PeriodicService(TimeProvider time) : BackgroundService
{
    /// <summary>The time between the starts of two steps (a step longer than it delays the next, never overlaps it).</summary>
    protected abstract TimeSpan Interval { get; }

    /// <summary>Whether the first step runs at start rather than one <see cref="Interval"/> later. Default: later.</summary>
    protected virtual bool StepsAtStart => false;

    protected abstract Task StepAsync(CancellationToken cancellationToken);

    /// <summary>Reports a failed step (with its exception); the service carries on at the next tick.</summary>
    protected abstract void StepFailed(Exception exception);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            if (!StepsAtStart && !await timer.WaitForNextTickAsync(stoppingToken))
            {
                return;
            }

            do
            {
                try
                {
                    await StepAsync(stoppingToken);
                }
                catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
                {
                    StepFailed(exception);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping: a wait or a step cut short by it is no failure of this service.
        }
    }
}
