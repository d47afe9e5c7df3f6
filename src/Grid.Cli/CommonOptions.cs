using System.CommandLine;
using System.CommandLine.Parsing;

namespace Grid.Cli;

/// <summary>Options shared by every command, and parsers for sizes and durations.</summary>
internal static class CommonOptions
{
    /// <summary>Used when neither <c>--api</c>, <c>GRID_API</c> nor the agent's node.json names a controller.</summary>
    public const string DefaultApi = "http://127.0.0.1:5080";

    public static readonly Option<string?> Api = new("--api")
    {
        Description = $"Controller URL (default: $GRID_API, else {DefaultApi})",
        Recursive = true,
    };

    public static readonly Option<string?> ApiKey = new("--api-key")
    {
        Description = "Twin api key (default: $GRID_API_KEY)",
        Recursive = true,
    };

    public static readonly Option<bool> Exact = new("--exact")
    {
        Description = "Show amounts to the minor unit (7 decimals) instead of to the cent",
        Recursive = true,
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print the controller's JSON answer instead of a table",
        Recursive = true,
    };

    /// <summary>The controller URL from <c>--api</c>, else <c>GRID_API</c>, else <paramref name="fallback"/>.</summary>
    public static Uri ApiUrl(ParseResult parse, Uri? fallback = null)
    {
        var text = parse.GetValue(Api) ?? Environment.GetEnvironmentVariable("GRID_API");
        return text is null ? fallback ?? new Uri(DefaultApi) : new Uri(text, UriKind.Absolute);
    }

    /// <summary>The api key from <c>--api-key</c>, else <c>GRID_API_KEY</c>.</summary>
    public static string? ApiKeyValue(ParseResult parse) =>
        parse.GetValue(ApiKey) ?? Environment.GetEnvironmentVariable("GRID_API_KEY");

    /// <summary>An option taking a size like <c>4G</c> (see <see cref="ByteSize"/>).</summary>
    public static Option<long?> Size(string name, string description) => new(name)
    {
        Description = description + " (bytes, or binary units: 500M, 4G, 1T)",
        CustomParser = result => Parse<long>(result, ByteSize.TryParse, "a size like 4G, 500M, 1T or a number of bytes"),
    };

    /// <summary>An option taking a duration like <c>3s</c>; <c>off</c> (or 0) gives null when <paramref name="allowOff"/>.</summary>
    public static Option<TimeSpan?> Duration(string name, string description, TimeSpan defaultValue, bool allowOff = false) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (allowOff && text is "off" or "never" or "0")
            {
                return null;
            }

            return Cli.Duration.TryParse(text, out var duration) && duration > TimeSpan.Zero ? duration
                : Fail<TimeSpan?>(result, "a positive duration like 500ms, 3s or 2m" + (allowOff ? ", or off" : ""));
        },
    };

    private delegate bool TryParser<T>(string? text, out T value);

    private static T? Parse<T>(ArgumentResult result, TryParser<T> parser, string expected)
        where T : struct
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : null;
        return parser(text, out var value) ? value : Fail<T?>(result, expected);
    }

    private static T? Fail<T>(ArgumentResult result, string expected)
    {
        result.AddError($"'{string.Join(" ", result.Tokens.Select(t => t.Value))}' is not {expected}.");
        return default;
    }
}
