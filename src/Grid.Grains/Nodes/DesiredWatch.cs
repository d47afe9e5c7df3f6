using System.Collections.Immutable;

namespace Grid.Nodes;

/// <summary>
/// The version of what a node should run: the agent's long-poll waits on it, and a heartbeat of an agent that holds the
/// current version is answered "unchanged" instead of the whole list. Versions start at the activation's first summary
/// version (above every earlier incarnation's), so an agent that knew a version of a previous activation is answered
/// at once, and in full.
/// </summary>
/// <remarks>
/// A version stands for one list: the first list answered at a version is kept, and a different one answered later
/// at the same version (a change not yet written, or written back after a failed write) takes the next version
/// first. So an agent told "unchanged" holds exactly what it would have been answered.
/// </remarks>
public sealed class DesiredWatch
{
    /// <summary>The longest an agent's watch is held open, whatever it asks.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(20);

    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ImmutableArray<WorkloadAssignment> _answered;
    private long _answeredVersion = -1;

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

    /// <summary>
    /// The version <paramref name="desired"/> is answered at, and whether an agent that holds
    /// <paramref name="heldVersion"/> already has exactly that list (then it need not be sent).
    /// </summary>
    public (long Version, bool Unchanged) Answer(ImmutableArray<WorkloadAssignment> desired, long? heldVersion)
    {
        if (_answeredVersion == Version && !Same(_answered, desired))
        {
            Changed();
        }

        if (_answeredVersion != Version)
        {
            (_answered, _answeredVersion) = (desired, Version);
        }

        return (Version, heldVersion == Version);
    }

    /// <summary>Waits while <paramref name="knownVersion"/> is current, at most <paramref name="maxWait"/> (capped at <see cref="MaxWait"/>).</summary>
    public async Task WaitAsync(long knownVersion, TimeSpan maxWait)
    {
        if (knownVersion == Version)
        {
            await Task.WhenAny(_changed.Task, Task.Delay(maxWait < MaxWait ? maxWait : MaxWait));
        }
    }

    /// <summary>
    /// The same assignments in the same order. The node hands out the same instances until a workload changes, so
    /// this is mostly one reference check; copies (credentials or GPUs attached) compare as records.
    /// </summary>
    private static bool Same(ImmutableArray<WorkloadAssignment> a, ImmutableArray<WorkloadAssignment> b)
    {
        if (a == b)
        {
            // The same list instance (the ledger answers the one it built until an allocation changes).
            return true;
        }

        if (a.IsDefault || b.IsDefault)
        {
            return a.IsDefault == b.IsDefault;
        }

        if (a.Length != b.Length)
        {
            return false;
        }

        for (var i = 0; i < a.Length; i++)
        {
            if (!a[i].Equals(b[i]))
            {
                return false;
            }
        }

        return true;
    }
}
