using System.Globalization;

namespace Grid.Agent.Runtimes.Networking;

/// <summary>No host port of the range can be handed out: the message says how many are published, quarantined and taken.</summary>
internal sealed class NoFreePortException(string message) : InvalidOperationException(message);

/// <summary>
/// Hands out host ports from a range: never one it handed out and did not get back, never one released less than the
/// quarantine ago (a client may still be talking to the old owner, Nomad #24904), and only what the caller can actually
/// use (bind). Not thread-safe: its owner holds a lock.
/// </summary>
/// <param name="first">First port of the range (inclusive).</param>
/// <param name="last">Last port of the range (inclusive).</param>
/// <param name="quarantine">How long a released port is not handed out again.</param>
/// <param name="time">Clock of the quarantine.</param>
internal sealed class PortPicker(int first, int last, TimeSpan quarantine, TimeProvider time)
{
    private readonly HashSet<int> _held = [];
    private readonly Dictionary<int, DateTimeOffset> _releasedAt = [];

    // Round-robin from after the last port handed out: a port freed just now is the last to be tried again anyway.
    private int _cursor;

    /// <summary>The ports handed out and not released.</summary>
    public IReadOnlyCollection<int> Held => _held;

    /// <summary>Whether <paramref name="port"/> is in the range, not held and not in quarantine.</summary>
    public bool IsFree(int port) => port >= first && port <= last && !_held.Contains(port) && !InQuarantine(port);

    /// <summary>
    /// Hands out the next free port <paramref name="tryUse"/> can use (it answers non-null, e.g. a bound socket);
    /// throws <see cref="NoFreePortException"/> when none of the range can.
    /// </summary>
    public T Take<T>(Func<int, T?> tryUse)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(tryUse);
        var count = last - first + 1;
        var unusable = 0;
        for (var i = 0; i < count; i++)
        {
            var port = first + ((_cursor + i) % count);
            if (!IsFree(port))
            {
                continue;
            }

            if (tryUse(port) is { } used)
            {
                _held.Add(port);
                _releasedAt.Remove(port);
                _cursor = (port - first + 1) % count;
                return used;
            }

            unusable++;
        }

        var quarantined = _releasedAt.Keys.Count(InQuarantine);
        throw new NoFreePortException(string.Create(
            CultureInfo.InvariantCulture,
            $"no free host port in {first}-{last}: {_held.Count} published, {quarantined} released less than {quarantine.TotalSeconds:0} s ago, {unusable} taken by other programs"));
    }

    /// <summary>Holds <paramref name="port"/> as handed out (a port re-adopted after a restart) when it is free; answers whether it was.</summary>
    public bool Hold(int port) => IsFree(port) && _held.Add(port);

    /// <summary>Takes back <paramref name="port"/>: free again once the quarantine has passed.</summary>
    public void Release(int port)
    {
        if (_held.Remove(port))
        {
            _releasedAt[port] = time.GetUtcNow();
        }
    }

    private bool InQuarantine(int port)
    {
        if (!_releasedAt.TryGetValue(port, out var at))
        {
            return false;
        }

        if (time.GetUtcNow() - at >= quarantine)
        {
            _releasedAt.Remove(port);
            return false;
        }

        return true;
    }
}
