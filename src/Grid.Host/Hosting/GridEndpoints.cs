using System.Text.Json;
using Grid.Host.Api;
using Grid.Host.Proxy;
using Grid.Host.Security;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Grid.Host.Hosting;

/// <summary>The paths the host serves; deployment manifests and probes are checked against these.</summary>
public static class GridEndpoints
{
    public const string ApiPrefix = "/api/v1";
    public const string LivePath = "/health/live";
    public const string ReadyPath = "/health/ready";
    public const string MetricsPath = "/metrics";
    public const string OpenApiPath = "/openapi/v1.json";
    public const string ReadyTag = "ready";

    public static WebApplication MapGridEndpoints(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();

        // Every endpoint declares who may call it (GridPolicies); the access test fails on one that does not.
        var api = app.MapGroup(ApiPrefix);
        api.MapTwinsApi();
        api.MapKeysApi();
        api.MapNodesApi();
        api.MapFarmsApi();
        api.MapReservationsApi();
        api.MapWorkloadsApi();
        api.MapClusterApi();
        api.MapLedgerApi();
        api.MapAccountApi();
        app.MapProxyApi();

        app.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false }).AllowPublic();
        app.MapHealthChecks(ReadyPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = WriteHealthAsync,
        }).AllowPublic();
        app.MapPrometheusScrapingEndpoint(MetricsPath).AllowPublic();
        app.MapOpenApi(OpenApiPath).AllowPublic();
        app.MapGet("/", () => TypedResults.Redirect(OpenApiPath)).ExcludeFromDescription().AllowPublic();
        return app;
    }

    private static Task WriteHealthAsync(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(http.Response.Body, new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        });
    }
}
