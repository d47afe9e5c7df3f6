using System.Security.Cryptography;
using System.Text;

namespace Grid.Host.Hosting;

/// <summary>The Orleans dashboard switch, bound from <c>Grid:Dashboard</c>.</summary>
public sealed class GridDashboardOptions
{
    /// <summary>
    /// Serve the Orleans dashboard at <c>/dashboard</c> to the operator (<c>Grid:Billing:OperatorKey</c>). It adds a
    /// grain-call filter on every silo (per-method counters; method profiling only while a dashboard page polls)
    /// and samples silo counters every second. Default: on with in-memory storage (the demo), off otherwise.
    /// </summary>
    public bool? Enabled { get; set; }

    public bool IsEnabled(GridStorageKind storage) => Enabled ?? storage == GridStorageKind.Memory;
}

/// <summary>
/// Lets a browser open the operator-only dashboard: a browser cannot send <c>Authorization: Bearer</c> when it
/// navigates, so on <c>/dashboard</c> HTTP Basic with the operator key as password is accepted (turned into the
/// bearer key the grid's authentication checks) and a 401 asks the browser for it.
/// </summary>
public static class DashboardAccess
{
    private const string Challenge = "Basic realm=\"grid operator\", charset=\"UTF-8\"";

    public static void UseBrowserSignIn(IApplicationBuilder branch) => branch.Use(async (http, next) =>
    {
        if (BasicPassword(http.Request.Headers.Authorization.ToString()) is { } key)
        {
            http.Request.Headers.Authorization = $"Bearer {key}";
        }

        http.Response.OnStarting(() =>
        {
            if (http.Response.StatusCode == StatusCodes.Status401Unauthorized)
            {
                http.Response.Headers.Append("WWW-Authenticate", Challenge);
            }

            return Task.CompletedTask;
        });
        try
        {
            await next(http);
        }
        catch (Exception exception) when (!http.Response.HasStarted && !GridExceptionHandler.IsTransient(exception))
        {
            // The dashboard throws on paths it cannot parse (e.g. a malformed silo address): a bad request, not a 500.
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails = { Status = 400, Title = "Bad request", Detail = $"The dashboard cannot answer {http.Request.Path}: {exception.GetType().Name}." },
            });
        }
    });

    /// <summary>
    /// Endpoint filter: the dashboard's live log stream is switched off (<c>HideTrace</c>: a request that never
    /// ends and a copy of every log line); its endpoint answers 404 like any other feature the grid does not serve.
    /// </summary>
    public static async ValueTask<object?> WithoutLiveLog(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        context.HttpContext.Request.Path.StartsWithSegments(GridEndpoints.DashboardPath + "/Trace", StringComparison.OrdinalIgnoreCase)
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: "Live log streaming is off on this grid.")
            : await next(context);

    /// <summary>
    /// In the in-memory demo without a configured operator key, one is generated for this run (and logged by
    /// <see cref="StorageNotice"/>), so the dashboard of the quick start can be opened.
    /// </summary>
    public static string? GenerateDemoOperatorKey(IConfiguration configuration, GridHostOptions options)
    {
        const string Key = "Grid:Billing:OperatorKey";
        if (!string.IsNullOrWhiteSpace(configuration[Key]) || options.Storage != GridStorageKind.Memory || !options.Dashboard.IsEnabled(options.Storage))
        {
            return null;
        }

        var generated = "op_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        configuration[Key] = generated;
        return generated;
    }

    private static string? BasicPassword(string header)
    {
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            var colon = pair.IndexOf(':', StringComparison.Ordinal);
            return colon >= 0 && colon < pair.Length - 1 ? pair[(colon + 1)..] : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
