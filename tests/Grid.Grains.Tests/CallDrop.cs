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

    private volatile Failing? _failing;

    /// <summary>Calls to <paramref name="methodName"/> of one grain fail (throw) until disarmed, as a grain that cannot do it would.</summary>
    public void Fail(string methodName, GrainId target) => _failing = new Failing(methodName, target);

    public void StopFailing() => _failing = null;

    public Task FilterAsync(IOutgoingGrainCallContext context)
    {
        if (_failing is { } failing && context.MethodName == failing.Method && context.TargetId == failing.Target)
        {
            throw new InvalidOperationException($"{failing.Method} of {failing.Target} fails (injected by the test).");
        }

        if (_method is { } method && context.MethodName == method)
        {
            Interlocked.Increment(ref _dropped);
            return Task.CompletedTask;
        }

        return context.Invoke();
    }

    private sealed record Failing(string Method, GrainId Target);
}
