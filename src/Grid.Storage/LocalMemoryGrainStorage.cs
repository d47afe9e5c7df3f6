using System.Buffers;
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

    // A payload longer than this is kept in pieces of it. One array of a large node's state (tens of KB per thousand
    // allocations) lands on the large object heap at every write, and that heap's allocations start full collections:
    // a node losing 1,000 reservations writes its state 1,000 times while it releases them.
    private const int Piece = 16 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    private long _etag;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (ShardOf(grainId).TryGetValue((stateName, grainId), out var slot) && Volatile.Read(ref slot.Entry) is { } entry)
        {
            grainState.State = Decode<T>(entry.Payload);
            grainState.ETag = Text(entry.ETag);
            grainState.RecordExists = true;
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = (stateName, grainId);
        var slot = ShardOf(grainId).GetOrAdd(key, static _ => new Slot());

        // Most states are small and take the serializer's own path to an array. A state seen larger than a piece
        // (a node with many allocations) is written in pieces from then on.
        object payload;
        if (slot.Large)
        {
            payload = InPieces(grainState.State);
        }
        else
        {
            var bytes = serializer.SerializeToArray(grainState.State);
            slot.Large = bytes.Length > Piece;
            payload = bytes;
        }

        var next = new Entry(payload, Interlocked.Increment(ref _etag));
        Swap(key, slot, grainState.ETag, next);
        grainState.ETag = Text(next.ETag);
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        // A cleared state keeps its (empty) slot: ETags only ever grow, so a stale writer still fails.
        var key = (stateName, grainId);
        Swap(key, ShardOf(grainId).TryGetValue(key, out var slot) ? slot : null, grainState.ETag, null);
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
        return Task.CompletedTask;
    }

    private static void Swap((string, GrainId) key, Slot? slot, string? expectedETag, Entry? next)
    {
        while (true)
        {
            var current = slot is null ? null : Volatile.Read(ref slot.Entry);
            if (!Matches(current, expectedETag))
            {
                throw new InconsistentStateException($"ETag mismatch for {key}", current is null ? null : Text(current.ETag), expectedETag);
            }

            if (slot is null || ReferenceEquals(Interlocked.CompareExchange(ref slot.Entry, next, current), current))
            {
                return;
            }
        }
    }

    /// <summary>Whether the stored entry is the one the writer read (null: none), by its ETag as the writer holds it.</summary>
    private static bool Matches(Entry? current, string? expectedETag) => current is null
        ? expectedETag is null
        : long.TryParse(expectedETag, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var expected)
            && expected == current.ETag;

    private static string Text(long etag) => etag.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private ConcurrentDictionary<(string StateName, GrainId GrainId), Slot> ShardOf(GrainId grainId) =>
        _shards[(int)(grainId.GetUniformHashCode() % Shards)];

    /// <summary>The state's bytes in arrays of at most <see cref="Piece"/> bytes (one when they fit).</summary>
    private object InPieces<T>(T state)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(Piece);
        buffer.ResetWrittenCount();
        serializer.Serialize(state, new BufferWriter(buffer));
        var written = buffer.WrittenSpan;
        if (written.Length <= Piece)
        {
            return written.ToArray();
        }

        var pieces = new byte[(written.Length + Piece - 1) / Piece][];
        for (var i = 0; i < pieces.Length; i++)
        {
            pieces[i] = written.Slice(i * Piece, Math.Min(Piece, written.Length - (i * Piece))).ToArray();
        }

        if (buffer.Capacity > 1 << 20)
        {
            // Not kept per thread after one very large state.
            t_buffer = null;
        }

        return pieces;
    }

    private T Decode<T>(object payload)
    {
        if (payload is byte[] whole)
        {
            return serializer.Deserialize<T>(whole)!;
        }

        var pieces = (byte[][])payload;
        var length = pieces.Sum(p => p.Length);
        var joined = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var at = 0;
            foreach (var piece in pieces)
            {
                piece.CopyTo(joined, at);
                at += piece.Length;
            }

            return serializer.Deserialize<T>(joined.AsSpan(0, length))!;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(joined);
        }
    }

    // The ETag as a number (a string per state was 30–40 B of each stored reservation); the text is made when read.
    private sealed record Entry(object Payload, long ETag);

    /// <summary>A struct around the buffer, so the serializer's generic code is compiled for it rather than shared.</summary>
    private readonly struct BufferWriter(ArrayBufferWriter<byte> buffer) : IBufferWriter<byte>
    {
        public void Advance(int count) => buffer.Advance(count);

        public Memory<byte> GetMemory(int sizeHint = 0) => buffer.GetMemory(sizeHint);

        public Span<byte> GetSpan(int sizeHint = 0) => buffer.GetSpan(sizeHint);
    }

    private sealed class Slot
    {
        public Entry? Entry;

        /// <summary>The state was once longer than a piece (read and written without a lock: a hint only).</summary>
        public bool Large;
    }
}
