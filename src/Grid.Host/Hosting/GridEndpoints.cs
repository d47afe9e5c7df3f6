using System.Text.Json;
using Grid.Host.Api;
using Grid.Host.Security;
using Grid.Proxy;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;
using Scalar.AspNetCore;

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
    public const string ApiReferencePath = "/api";
    public const string DashboardPath = "/dashboard";

    public static WebApplication MapGridEndpoints(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // The console (wwwroot): index.html at "/", plain static files, no build step.
        // Served from the app's folder (not the content root), so it works whatever the working directory.
        var console = new PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "wwwroot"));
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = console });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = console });
        var host = app.Services.GetRequiredService<IOptions<GridHostOptions>>().Value;
        if (host.Dashboard.IsEnabled(host.Storage))
        {
            app.UseWhen(http => http.Request.Path.StartsWithSegments(DashboardPath), DashboardAccess.UseBrowserSignIn);
        }

        app.UseAuthentication();
        app.UseGridRateLimiting();
        app.UseAuthorization();

        // Every endpoint declares who may call it (GridPolicies); the access test fails on one that does not.
        var api = app.MapGroup(ApiPrefix);
        api.MapTwinsApi();
        api.MapKeysApi();
        api.MapNodesApi();
        api.MapRentsApi();
        api.MapProvidersApi();
        api.MapFarmsApi();
        api.MapReservationsApi();
        api.MapWorkloadsApi();
        api.MapNamesApi();
        api.MapClusterApi();
        api.MapPricesApi();
        api.MapPaymentsApi();
        api.MapLedgerApi();
        api.MapAccountApi();
        api.MapGridOverviewApi();
        app.MapProxyApi().AllowPublic();

        app.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false }).AllowPublic();
        app.MapHealthChecks(ReadyPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = WriteHealthAsync,
        }).AllowPublic();
        app.MapPrometheusScrapingEndpoint(MetricsPath).AllowPublic();
        app.MapOpenApi(OpenApiPath).AllowPublic();
        app.MapScalarApiReference(ApiReferencePath, scalar => scalar.Title = "Grid.Orleans API").AllowPublic();
        if (host.Dashboard.IsEnabled(host.Storage))
        {
            app.MapOrleansDashboard(DashboardPath).RequireGridRole(GridPolicies.Operator).AddEndpointFilter(DashboardAccess.WithoutLiveLog);
        }

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
