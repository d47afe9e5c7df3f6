namespace Grid.Proxy;

/// <summary>
/// A background service that runs one step at once and then every <see cref="Interval"/>. A failed step is reported
/// and the next tick tries again: the silo may be starting, failing over, or its database restarting.
/// </summary>
public abstract class PeriodicService : BackgroundService
{
    protected abstract TimeSpan Interval { get; }

    protected abstract Task StepAsync(CancellationToken cancellationToken);

    protected abstract void StepFailed(Exception exception);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                await StepAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                StepFailed(e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
