using System.Collections.Immutable;
using System.Text.Json;
using Grid.Client;

namespace Grid.Agent.Gateway;

/// <summary>
/// Bytes proxied per name, reported exactly once: counts move into a numbered batch that heartbeats carry until the
/// controller acknowledges its sequence; traffic meanwhile goes into the next batch. Batches, the counts not yet in
/// one and the next sequence are kept in a state file, so a restarted agent resends an unacknowledged batch under
/// the same sequence (the controller ignores what it already applied) and loses nothing it had counted.
/// </summary>
/// <param name="path">The state file.</param>
internal sealed class TrafficMeter(string path)
{
    private readonly Lock _lock = new();
    private Dictionary<string, (long In, long Out)> _current = [];
    private TrafficBatch? _pending;
    private long _nextSequence = 1;
    private long _requests;

    /// <summary>The state file.</summary>
    public string Path { get; } = path;

    /// <summary>Requests counted since this meter was made (for tests and logs: a request is counted after its answer ended).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Reads what a previous agent left (a damaged file reads as nothing: counts must not stop the gateway).</summary>
    public void Load()
    {
        if (!File.Exists(Path))
        {
            return;
        }

        TrafficState? state;
        try
        {
            state = JsonSerializer.Deserialize<TrafficState>(File.ReadAllText(Path), GridJson.Options);
        }
        catch (JsonException)
        {
            return;
        }

        if (state is null)
        {
            return;
        }

        lock (_lock)
        {
            _nextSequence = Math.Max(state.NextSequence, 1);
            _pending = state.Pending;
            _current = state.Current.ToDictionary(t => t.Name, t => (t.BytesIn, t.BytesOut));
        }
    }

    /// <summary>Counts one request's bytes for <paramref name="name"/>.</summary>
    public void Add(string name, long bytesIn, long bytesOut)
    {
        lock (_lock)
        {
            _current.TryGetValue(name, out var sum);
            _current[name] = (sum.In + bytesIn, sum.Out + bytesOut);
        }

        Interlocked.Increment(ref _requests);
    }

    /// <summary>
    /// The batch the next heartbeat carries: the unacknowledged one again, else the counts so far under a new
    /// sequence (saved before it is sent); null when there is nothing to report.
    /// </summary>
    public TrafficBatch? Outgoing()
    {
        lock (_lock)
        {
            if (_pending is null && _current.Count > 0)
            {
                _pending = new(_nextSequence++, [.. _current.Select(kv => new NameTraffic(kv.Key, kv.Value.In, kv.Value.Out)).OrderBy(t => t.Name, StringComparer.Ordinal)]);
                _current = [];
            }

            // Counts not yet in a batch are saved too, so a crash after this heartbeat loses at most what came since.
            SaveLocked();
            return _pending;
        }
    }

    /// <summary>Drops the batch the controller has applied (its sequence ≤ <paramref name="acknowledged"/>).</summary>
    public void Acknowledge(long acknowledged)
    {
        lock (_lock)
        {
            if (_pending is { } batch && batch.Sequence <= acknowledged)
            {
                _pending = null;
                SaveLocked();
            }
        }
    }

    /// <summary>Saves everything counted (at a clean stop).</summary>
    public void Save()
    {
        lock (_lock)
        {
            SaveLocked();
        }
    }

    private void SaveLocked()
    {
        var state = new TrafficState(_nextSequence, _pending, [.. _current.Select(kv => new NameTraffic(kv.Key, kv.Value.In, kv.Value.Out))]);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        AtomicFile.WriteAllText(Path, JsonSerializer.Serialize(state, GridJson.Options));
    }

    /// <summary>What the state file holds.</summary>
    private sealed record TrafficState(long NextSequence, TrafficBatch? Pending, ImmutableArray<NameTraffic> Current);
}

/// <summary>Traffic per name under one sequence, sent until acknowledged.</summary>
/// <param name="Sequence">Increases per gateway node across agent restarts.</param>
/// <param name="Traffic">Bytes per name.</param>
internal sealed record TrafficBatch(long Sequence, ImmutableArray<NameTraffic> Traffic);
