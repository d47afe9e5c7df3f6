using System.Text.Json;
using System.Text.Json.Serialization;
using Orleans.Storage;

namespace Grid.Storage;

/// <summary>
/// Grain-state serializer of the Grid: plain UTF-8 JSON written by System.Text.Json.
/// </summary>
/// <remarks>
/// Chosen over the Orleans binary serializer and over JSON with embedded type names on purpose:
/// <list type="bullet">
/// <item>No CLR type or assembly names are stored, so renaming or moving a state type never breaks
/// data already in PostgreSQL; only the property names matter.</item>
/// <item>Properties are camelCase and enums are written as their (camelCase) names, so a stored row is
/// readable by an operator and by SQL (<c>convert_from(payload, 'UTF8')::jsonb</c>), and reordering enum
/// members cannot silently change meaning.</item>
/// <item>Unknown properties are ignored on read and missing ones take their defaults, so adding or
/// removing a field is a compatible change. Renaming a property is not: keep the old name with
/// <see cref="JsonPropertyNameAttribute"/>.</item>
/// </list>
/// Immutable collections (<c>ImmutableArray</c>, <c>ImmutableDictionary</c>) and positional records
/// round-trip as they are.
/// </remarks>
public sealed class GridJsonGrainStorageSerializer : IGrainStorageSerializer
{
    private readonly JsonSerializerOptions _options;

    /// <summary>Creates the serializer with <see cref="CreateOptions"/>.</summary>
    public GridJsonGrainStorageSerializer()
        : this(CreateOptions())
    {
    }

    /// <summary>Creates the serializer with caller-supplied options (for tests and tooling).</summary>
    public GridJsonGrainStorageSerializer(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <summary>The options the Grid stores state with: camelCase names, enums as strings.</summary>
    public static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DictionaryKeyPolicy = null,
            // Web defaults also accept numbers as strings; stored state is written by us, so be strict.
            NumberHandling = JsonNumberHandling.Strict,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    /// <inheritdoc />
    public BinaryData Serialize<T>(T? input) =>
        new(JsonSerializer.SerializeToUtf8Bytes(input, _options));

    /// <inheritdoc />
    public T Deserialize<T>(BinaryData input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return JsonSerializer.Deserialize<T>(input.ToMemory().Span, _options)!;
    }
}
