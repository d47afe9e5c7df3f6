using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Grid.Host.Api;

/// <summary>
/// Writes a node's desired workloads (in every heartbeat answer and long-poll) from the JSON written last time
/// for the same list. An agent reports and is answered its whole desired list on every heartbeat, and it rarely
/// changes: with 100 workloads, writing that list was a third of a heartbeat's CPU and most of its allocation
/// (profile in docs/benchmarks.md, round three). The node grain hands out the same <see cref="WorkloadAssignment"/>
/// instances until a workload changes, and they and their specs are immutable records, so a list made of the
/// same instances in the same order has the same JSON: the cache compares references, never contents. A list
/// with pull credentials attached is made of new instances on every call, and is written anew and never kept.
/// </summary>
/// <remarks>
/// Bounded: a fixed number of slots picked by the first workload's identity, each holding one list; a grid
/// with more nodes than slots just misses more often (the cost is then the plain serialization and one copy).
/// Short lists are written directly: their serialization costs less than keeping them.
/// </remarks>
public sealed class DesiredJsonConverter : JsonConverter<ImmutableArray<WorkloadAssignment>>
{
    /// <summary>Lists shorter than this are not cached.</summary>
    public const int MinCached = 8;

    private const int Slots = 4096;
    private readonly Entry?[] _slots = new Entry?[Slots];
    private InnerOptions? _inner;

    /// <inheritdoc/>
    public override ImmutableArray<WorkloadAssignment> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        JsonSerializer.Deserialize<ImmutableArray<WorkloadAssignment>>(ref reader, Inner(options));

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, ImmutableArray<WorkloadAssignment> value, JsonSerializerOptions options)
    {
        if (!value.IsDefault && value.IsEmpty)
        {
            // Most nodes' heartbeats: no nested serializer call for "[]".
            writer.WriteStartArray();
            writer.WriteEndArray();
            return;
        }

        if (value.IsDefault || value.Length < MinCached || options.WriteIndented)
        {
            JsonSerializer.Serialize(writer, value, Inner(options));
            return;
        }

        var items = ImmutableCollectionsMarshal.AsArray(value)!;
        var slot = (RuntimeHelpers.GetHashCode(items[0]) & int.MaxValue) % Slots;
        if (Volatile.Read(ref _slots[slot]) is { } held && held.Options == options && held.Matches(items))
        {
            writer.WriteRawValue(held.Json, skipInputValidation: true);
            return;
        }

        var json = JsonSerializer.SerializeToUtf8Bytes(value, Inner(options));
        // Pull credentials stay in memory only as long as the node holds them: a list carrying any is not kept.
        if (Array.TrueForAll(items, item => item.Auth is null))
        {
            Volatile.Write(ref _slots[slot], new Entry(items, json, options));
        }

        writer.WriteRawValue(json, skipInputValidation: true);
    }

    /// <summary>The same options without this converter: what the list's JSON would be without the cache.</summary>
    private JsonSerializerOptions Inner(JsonSerializerOptions options)
    {
        if (Volatile.Read(ref _inner) is { } inner && ReferenceEquals(inner.Of, options))
        {
            return inner.Options;
        }

        var copy = new JsonSerializerOptions(options);
        copy.Converters.Remove(this);
        copy.MakeReadOnly(populateMissingResolver: true);
        Volatile.Write(ref _inner, new InnerOptions(options, copy));
        return copy;
    }

    /// <summary><paramref name="Options"/> are <paramref name="Of"/> without this converter.</summary>
    private sealed record InnerOptions(JsonSerializerOptions Of, JsonSerializerOptions Options);

    /// <summary>One list as written: its items (their identities, not copies) and its JSON.</summary>
    private sealed record Entry(WorkloadAssignment[] Items, byte[] Json, JsonSerializerOptions Options)
    {
        public bool Matches(WorkloadAssignment[] items)
        {
            if (items.Length != Items.Length)
            {
                return false;
            }

            for (var i = 0; i < items.Length; i++)
            {
                if (!ReferenceEquals(items[i], Items[i]))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
