namespace Grid.Nodes;

/// <summary>
/// The long-poll of a node's agent: the version of what the node should run, and a wait that ends when it changes.
/// Versions start at the activation's first summary version (above every earlier incarnation's), so an agent that
/// knew a version of a previous activation is answered at once.
/// </summary>
public sealed class DesiredWatch
{
    /// <summary>The longest an agent's watch is held open, whatever it asks.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(20);

    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Version { get; private set; }

    /// <summary>Starts counting at <paramref name="version"/> (a new incarnation).</summary>
    public void Start(long version) => Version = version;

    /// <summary>What the node should run changed: every open watch answers.</summary>
    public void Changed()
    {
        Version++;
        var changed = _changed;
        _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    /// <summary>Waits while <paramref name="knownVersion"/> is current, at most <paramref name="maxWait"/> (capped at <see cref="MaxWait"/>).</summary>
    public async Task WaitAsync(long knownVersion, TimeSpan maxWait)
    {
        if (knownVersion == Version)
        {
            await Task.WhenAny(_changed.Task, Task.Delay(maxWait < MaxWait ? maxWait : MaxWait));
        }
    }
}
