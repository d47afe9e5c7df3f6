using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Grid.Host.Hosting;

/// <summary>The operator's key, bound from <c>Grid:Billing</c> (the economy's deposits use the same key).</summary>
public sealed class GridOperatorOptions
{
    public const string Section = "Grid:Billing";

    /// <summary>
    /// The secret that opens operator-only pages and calls (the Orleans dashboard). Default: none — in the
    /// in-memory demo a random key is generated and logged at start; in PostgreSQL mode operator pages answer 401.
    /// </summary>
    public string? OperatorKey { get; set; }
}

/// <summary>The Orleans dashboard switch, bound from <c>Grid:Dashboard</c>.</summary>
public sealed class GridDashboardOptions
{
    /// <summary>
    /// Serve the Orleans dashboard at <c>/dashboard</c> (operator key required). It adds a grain-call filter on every
    /// silo (per-method counters, profiling only while a page polls it) and a one-second counter sample. Default:
    /// on with in-memory storage (the demo), off otherwise.
    /// </summary>
    public bool? Enabled { get; set; }

    public bool IsEnabled(GridStorageKind storage) => Enabled ?? storage == GridStorageKind.Memory;
}

/// <summary>
/// Checks the operator key: <c>Authorization: Bearer &lt;key&gt;</c> for scripts, or HTTP Basic with the key as
/// password so a browser can open operator pages (it asks once per session). Compared in constant time.
/// </summary>
public sealed partial class OperatorKey
{
    private const string Realm = "Basic realm=\"grid operator\", charset=\"UTF-8\"";
    private readonly byte[]? _key;

    public OperatorKey(IOptions<GridOperatorOptions> options, IOptions<GridHostOptions> host, ILogger<OperatorKey> logger)
    {
        var key = options.Value.OperatorKey;
        if (string.IsNullOrWhiteSpace(key) && host.Value.Storage == GridStorageKind.Memory)
        {
            key = "op_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            LogGenerated(logger, key);
        }

        _key = string.IsNullOrWhiteSpace(key) ? null : Encoding.UTF8.GetBytes(key);
    }

    public bool IsOperator(HttpContext http)
    {
        if (_key is null)
        {
            return false;
        }

        var header = http.Request.Headers.Authorization.ToString();
        string? presented = null;
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            presented = header["Bearer ".Length..].Trim();
        }
        else if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
                presented = pair[(pair.IndexOf(':', StringComparison.Ordinal) + 1)..];
            }
            catch (FormatException)
            {
                return false;
            }
        }

        return presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), _key);
    }

    /// <summary>Middleware for operator-only paths: 401 with a Basic challenge unless the key is presented.</summary>
    public static async Task RequireAsync(HttpContext http, RequestDelegate next)
    {
        if (http.RequestServices.GetRequiredService<OperatorKey>().IsOperator(http))
        {
            await next(http);
            return;
        }

        http.Response.StatusCode = StatusCodes.Status401Unauthorized;
        http.Response.Headers.WWWAuthenticate = Realm;
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails =
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "Unauthorized",
                Detail = "The operator key is required (Grid:Billing:OperatorKey): HTTP Basic with the key as password, or Authorization: Bearer <key>.",
            },
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grid:Billing:OperatorKey is not set: generated one for this in-memory run. Operator key: {Key} (Orleans dashboard at /dashboard: any user name, this key as password)")]
    private static partial void LogGenerated(ILogger logger, string key);
}
