using System.Text.Json;
using System.Text.Json.Serialization;

namespace Grid.Client;

/// <summary>
/// The JSON of the grid HTTP API, defined once for both sides of the wire: camelCase names and enums as camelCase
/// strings (numbers are refused, so a reordered enum cannot change meaning). The host applies <see cref="Configure"/>
/// to its own HTTP options; clients use <see cref="Options"/>.
/// </summary>
/// <remarks>
/// Not for the grid-proxy-compatible read API (<c>snake_case</c>, the ThreeFold wire format), the stored grain state
/// or the ledger's event details: those are other formats with their own options.
/// </remarks>
public static class GridJson
{
    /// <summary>Options of the API as the host reads and writes it: web defaults plus <see cref="Configure"/> (nulls are written).</summary>
    public static readonly JsonSerializerOptions Api = Create(omitNulls: false, indented: false);

    /// <summary>
    /// Options of a client's requests and reads: as <see cref="Api"/>, but null members are left out of what is sent, so
    /// a request carries only what its sender set (and the bytes a node signs stay as small as before).
    /// </summary>
    public static readonly JsonSerializerOptions Options = Create(omitNulls: true, indented: false);

    /// <summary>The same as <see cref="Options"/>, indented, for files and <c>--json</c> output.</summary>
    public static readonly JsonSerializerOptions Indented = Create(omitNulls: true, indented: true);

    /// <summary>Sets the API's naming and enum conventions on <paramref name="options"/> (the host's HTTP JSON options).</summary>
    public static void Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
    }

    private static JsonSerializerOptions Create(bool omitNulls, bool indented)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = indented };
        if (omitNulls)
        {
            options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        }

        Configure(options);
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
