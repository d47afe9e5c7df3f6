namespace Grid.Grains.Tests;

/// <summary>Drops grain calls to one method while armed, as a lost message would (an outgoing call filter on every silo).</summary>
public sealed class CallDrop
{
    private volatile string? _method;
    private int _dropped;

    /// <summary>Calls dropped so far.</summary>
    public int Dropped => Volatile.Read(ref _dropped);

    public void Arm(string methodName) => _method = methodName;

    public void Disarm() => _method = null;

    public Task FilterAsync(IOutgoingGrainCallContext context)
    {
        if (_method is { } method && context.MethodName == method)
        {
            Interlocked.Increment(ref _dropped);
            return Task.CompletedTask;
        }

        return context.Invoke();
    }
}
