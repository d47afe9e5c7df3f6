using System.Text.Json;
using System.Text.Json.Serialization;

namespace Grid.Agent;

/// <summary>JSON settings of the grid HTTP API: camelCase names, enums as camelCase strings, nulls left out.</summary>
public static class GridJson
{
    /// <summary>Options for requests and responses.</summary>
    public static readonly JsonSerializerOptions Options = Create(indented: false);

    /// <summary>The same, indented, for files and <c>--json</c> output.</summary>
    public static readonly JsonSerializerOptions Indented = Create(indented: true);

    private static JsonSerializerOptions Create(bool indented)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            WriteIndented = indented,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
