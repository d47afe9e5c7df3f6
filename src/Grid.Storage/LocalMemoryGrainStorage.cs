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
    // One slot per grain state, its entry swapped by compare-and-exchange: a write takes no lock (the dictionary's
    // stripe locks were the second-hottest lock of a placement profile); a dictionary changes only when a grain
    // state is first written. In shards, because a growing dictionary takes all of its locks to resize: with
    // hundreds of thousands of new reservation records, one dictionary held up every first write of the silo
    // while it copied itself; a shard holds up 1/64 of them. (The waits a profile showed under GetOrAdd were
    // mostly GC pauses of lock holders; the sharding's own gain was within run-to-run noise.)
    private const int Shards = 64;
    private readonly ConcurrentDictionary<(string StateName, GrainId GrainId), Slot>[] _shards =
        [.. Enumerable.Range(0, Shards).Select(_ => new ConcurrentDictionary<(string StateName, GrainId GrainId), Slot>(concurrencyLevel: 4, capacity: 4096))];

    private long _etag;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (ShardOf(grainId).TryGetValue((stateName, grainId), out var slot) && Volatile.Read(ref slot.Entry) is { } entry)
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
        // A cleared state keeps its (empty) slot: ETags only ever grow, so a stale writer still fails.
        var shard = ShardOf(key.Item2);
        var slot = next is not null ? shard.GetOrAdd(key, static _ => new Slot()) : shard.TryGetValue(key, out var known) ? known : null;
        while (true)
        {
            var current = slot is null ? null : Volatile.Read(ref slot.Entry);
            if (current?.ETag != expectedETag)
            {
                throw new InconsistentStateException($"ETag mismatch for {key}", current?.ETag, expectedETag);
            }

            if (slot is null || ReferenceEquals(Interlocked.CompareExchange(ref slot.Entry, next, current), current))
            {
                return;
            }
        }
    }

    private ConcurrentDictionary<(string StateName, GrainId GrainId), Slot> ShardOf(GrainId grainId) =>
        _shards[(int)(grainId.GetUniformHashCode() % Shards)];

    private sealed record Entry(byte[] Payload, string ETag);

    private sealed class Slot
    {
        public Entry? Entry;
    }
}
