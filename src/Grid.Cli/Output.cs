using System.Globalization;
using System.Text.Json;
using Grid.Client;

namespace Grid.Cli;

/// <summary>Renders the controller's JSON for people: tables for lists, aligned fields for one object.</summary>
internal static class Output
{
    private static readonly HashSet<string> s_byteFields = ["mru", "sru", "hru"];

    /// <summary>The JSON as received, indented, for <c>--json</c>.</summary>
    public static string Json(JsonElement value) =>
        value.ValueKind == JsonValueKind.Undefined ? "{}" : JsonSerializer.Serialize(value, GridJson.Indented);

    /// <summary>Rows of a list answer: the array itself, or the <c>items</c> array of a paged object.</summary>
    public static IReadOnlyList<JsonElement> Rows(JsonElement value) =>
        value.ValueKind == JsonValueKind.Array ? [.. value.EnumerateArray()]
        : value.ValueKind == JsonValueKind.Object && value.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Array ? [.. items.EnumerateArray()]
        : [];

    /// <summary>Writes a table; columns are (header, dotted path into each row).</summary>
    public static void Table(TextWriter writer, IReadOnlyList<JsonElement> rows, params (string Header, string Path)[] columns)
    {
        var cells = rows.Select(row => columns.Select(c => Cell(row, c.Path)).ToArray()).ToList();
        var widths = columns.Select((c, i) => cells.Select(r => r[i].Length).Append(c.Header.Length).Max()).ToArray();
        writer.WriteLine(string.Join("  ", columns.Select((c, i) => c.Header.PadRight(widths[i]))).TrimEnd());
        foreach (var row in cells)
        {
            writer.WriteLine(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
        }

        if (rows.Count == 0)
        {
            writer.WriteLine("(none)");
        }
    }

    /// <summary>Writes each top-level field of an object on its own line.</summary>
    public static void Fields(TextWriter writer, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            writer.WriteLine(Format(value, null));
            return;
        }

        var properties = value.EnumerateObject().ToList();
        var width = properties.Select(p => p.Name.Length).DefaultIfEmpty(0).Max();
        foreach (var property in properties)
        {
            writer.WriteLine($"{(property.Name + ":").PadRight(width + 1)} {Format(property.Value, property.Name)}");
        }
    }

    /// <summary>The value at a dotted path like <c>total.mru</c>, formatted; empty when absent.</summary>
    public static string Cell(JsonElement row, string path)
    {
        var current = row;
        string? name = null;
        foreach (var part in path.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out current))
            {
                return "";
            }

            name = part;
        }

        return Format(current, name);
    }

    private static string Format(JsonElement value, string? name) => value.ValueKind switch
    {
        JsonValueKind.Number when name is not null && s_byteFields.Contains(name) && value.TryGetInt64(out var bytes) => ByteSize.Format(bytes),
        JsonValueKind.Number when name is not null && MoneyText.Fields.Contains(name) && value.TryGetInt64(out var minor) => MoneyText.Format(minor),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.String => value.GetString() ?? "",
        JsonValueKind.True => "yes",
        JsonValueKind.False => "no",
        JsonValueKind.Null or JsonValueKind.Undefined => "-",
        JsonValueKind.Object => string.Join(" ", value.EnumerateObject().Select(p => $"{p.Name}={Format(p.Value, p.Name)}")),
        JsonValueKind.Array when value.EnumerateArray().All(e => e.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array)) =>
            "[" + string.Join(", ", value.EnumerateArray().Select(e => Format(e, name))) + "]",
        // A few flat objects (endpoints, ports, mounts) fit on the line; longer or nested lists say to use --json.
        JsonValueKind.Array when value.GetArrayLength() <= 4 && value.EnumerateArray().All(IsFlatObject) =>
            "[" + string.Join("; ", value.EnumerateArray().Select(e => Format(e, name))) + "]",
        JsonValueKind.Array => string.Create(CultureInfo.InvariantCulture, $"{value.GetArrayLength()} items (see --json)"),
        _ => value.GetRawText(),
    };

    private static bool IsFlatObject(JsonElement element) =>
        element.ValueKind == JsonValueKind.Object && element.EnumerateObject().All(p => p.Value.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array));
}
