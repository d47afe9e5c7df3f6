using System.Collections.Concurrent;
using Orleans.Serialization;
using Orleans.Storage;

namespace Grid.Storage;

/// <summary>
/// Grain state kept in this silo's memory, for the single-silo in-memory mode. Unlike Orleans' memory
/// provider it does not route every read and write through storage grains: a write serializes the state
/// (Orleans' binary format, a fraction of the object graph's size) into a dictionary, with ETags so a stale
/// activation still fails like it would against a database.
/// </summary>
public sealed class LocalMemoryGrainStorage(Serializer serializer) : IGrainStorage
{
    // Many lock stripes: with the default (one per core) concurrent writes of unrelated grains queued on each other.
    private readonly ConcurrentDictionary<(string StateName, GrainId GrainId), Entry> _entries = new(concurrencyLevel: 256, capacity: 4096);
    private long _etag;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (_entries.TryGetValue((stateName, grainId), out var entry))
        {
            grainState.State = serializer.Deserialize<T>(entry.Payload);
            grainState.ETag = entry.ETag;
            grainState.RecordExists = true;
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var next = new Entry(serializer.SerializeToArray(grainState.State), Interlocked.Increment(ref _etag).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Swap((stateName, grainId), grainState.ETag, next);
        grainState.ETag = next.ETag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        Swap((stateName, grainId), grainState.ETag, null);
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
        return Task.CompletedTask;
    }

    private void Swap((string, GrainId) key, string? expectedETag, Entry? next)
    {
        while (true)
        {
            var exists = _entries.TryGetValue(key, out var current);
            if (current?.ETag != expectedETag)
            {
                throw new InconsistentStateException($"ETag mismatch for {key}", current?.ETag, expectedETag);
            }

            var done = (exists, next) switch
            {
                (false, null) => true,
                (false, _) => _entries.TryAdd(key, next),
                (true, null) => _entries.TryRemove(new KeyValuePair<(string, GrainId), Entry>(key, current!)),
                (true, _) => _entries.TryUpdate(key, next, current!),
            };
            if (done)
            {
                return;
            }
        }
    }

    private sealed record Entry(byte[] Payload, string ETag);
}
