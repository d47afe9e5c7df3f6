using System.Net;
using System.Net.Sockets;
using Grid.Client;
using Grid.Hosting;
using Grid.Host.Api;
using Grid.Host.Demo;
using Grid.Host.Security;
using Grid.Proxy;
using Grid.Storage;
using Grid.Telemetry;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;
using Orleans.Configuration;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Grid.Host.Hosting;

public static partial class GridHostExtensions
{
    public const string DefaultUrl = "http://127.0.0.1:5080";
    public const string ConnectionStringName = "Grid";

    /// <summary>
    /// How long a stopping host (SIGTERM: a rolling upgrade, a drained machine) has to hand its grains over and leave
    /// the membership table before it is stopped anyway. The pod's <c>terminationGracePeriodSeconds</c> and the
    /// systemd unit's <c>TimeoutStopSec</c> leave room for it.
    /// </summary>
    public static readonly TimeSpan GracefulShutdown = TimeSpan.FromSeconds(45);

    /// <summary>
    /// The whole controller in one host: an Orleans silo (in-memory by default, PostgreSQL with
    /// <c>Grid:Storage=postgres</c>), the HTTP API, health, OpenAPI and OpenTelemetry.
    /// </summary>
    public static WebApplicationBuilder AddGridHost(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(GridHostOptions.Section).Get<GridHostOptions>() ?? new GridHostOptions();
        builder.Services.AddGridSettings<GridHostOptions, GridHostOptionsValidator>(GridHostOptions.Section);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && !builder.Configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = GracefulShutdown);
        builder.UseOrleans(silo => ConfigureSilo(silo, builder.Configuration, options));
        builder.Services.AddHostedService<StorageNotice>();
        if (options.Demo.EffectiveNodes(options.Storage) > 0)
        {
            builder.Services.AddHostedService<DemoFarm>();
        }

        var demoOperatorKey = DashboardAccess.GenerateDemoOperatorKey(builder.Configuration, options);
        builder.Services.AddSingleton(new StorageNotice.DemoOperatorKey(demoOperatorKey));
        builder.Services.AddSingleton<GridCredentials>();
        builder.Services.AddAuthentication(GridAuthenticationHandler.SchemeName)
            .AddScheme<GridAuthenticationOptions, GridAuthenticationHandler>(GridAuthenticationHandler.SchemeName, o =>
                o.OperatorKey = builder.Configuration["Grid:Billing:OperatorKey"]);
        builder.Services.AddAuthorization(GridPolicies.Add);
        builder.AddGridLimits();
        builder.Services.AddSingleton<NodeHeartbeats>();
        builder.Services.AddSingleton<GridOverviewCache>();
        builder.Services.AddGridProxy(options.Storage == GridStorageKind.Postgres ? builder.Configuration.GetConnectionString(ConnectionStringName) : null);
        builder.Services.ConfigureHttpJsonOptions(json => GridJson.Configure(json.SerializerOptions));
        builder.Services.AddSingleton<HeartbeatAnswer.Json>();
        builder.Services.AddProblemDetails();
        // Malformed bodies reach the exception handler, which answers a ProblemDetails that says what was wrong.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<GridExceptionHandler>();
        builder.Services.AddOpenApi(openApi => openApi.AddSchemaTransformer<RequiredMembersSchema>());
        var health = builder.Services.AddHealthChecks()
            .AddCheck<SiloHealthCheck>("silo", tags: [GridEndpoints.ReadyTag]);
        if (options.Storage == GridStorageKind.Postgres)
        {
            health.AddCheck<PostgresHealthCheck>("postgres", tags: [GridEndpoints.ReadyTag]);
        }

        builder.AddGridTelemetry();
        return builder;
    }

    private static void ConfigureSilo(ISiloBuilder silo, IConfiguration configuration, GridHostOptions options)
    {
        var cluster = options.Cluster;
        silo.AddGridGrains();
        silo.AddActivityPropagation();
        if (options.Dashboard.IsEnabled(options.Storage))
        {
            // No live log streaming: a request that never ends, and every log line copied to it.
            silo.AddDashboard(dashboard => dashboard.HideTrace = true);
        }

        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = cluster.ClusterId;
            o.ServiceId = cluster.ServiceId;
        });
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = cluster.ProbeTimeout;
            o.NumMissedProbesLimit = cluster.NumMissedProbesLimit;
            o.TableRefreshTimeout = cluster.TableRefreshTimeout;
            // A killed silo stays dead; no need to wait the default minutes before its entry may be cleaned up.
            o.DefunctSiloExpiration = TimeSpan.FromHours(1);
        });

        if (options.Storage == GridStorageKind.Postgres)
        {
            var connectionString = configuration.GetConnectionString(ConnectionStringName);
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                throw new OptionsValidationException(ConnectionStringName, typeof(GridHostOptions),
                    ["Grid:Storage=postgres needs ConnectionStrings:Grid (e.g. Host=127.0.0.1;Username=postgres;Database=grid)."]);
            }

            silo.UseGridPostgres(connectionString);
            // A silo cut off from the database leaves, so the others serve its grains (StorageLossGuard).
            silo.AddPlacementDirector<SiloPinnedPlacement, SiloPinnedPlacementDirector>();
            silo.Services.AddHostedService<StorageLossGuard>();
            silo.ConfigureEndpoints(AdvertisedAddress(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: true);
        }
        else
        {
            silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.ClusterId);
            silo.UseGridMemory();
        }

        silo.UseGridTls(cluster.Tls);
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("POD_NAMESPACE")))
        {
            silo.UseKubernetesHosting();
        }
    }

    private static IPAddress AdvertisedAddress(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return IPAddress.TryParse(configured, out var address)
                ? address
                : Dns.GetHostAddresses(configured).First(a => a.AddressFamily == AddressFamily.InterNetwork);
        }

        return Dns.GetHostAddresses(Dns.GetHostName())
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a)) ?? IPAddress.Loopback;
    }

    private static void AddGridTelemetry(this WebApplicationBuilder builder)
    {
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Configuration["OTEL_SERVICE_NAME"] ?? "grid-orleans"))
            .WithMetrics(metrics => metrics
                .AddMeter(GridTelemetry.Name, "Microsoft.Orleans")
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            // Spans only when they have somewhere to go: with no exporter, recording one per grain call (Orleans'
            // activity propagation) is CPU spent for nothing on every hot path.
            otel.WithTracing(tracing => tracing
                    .AddSource(GridTelemetry.Name, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application", "Microsoft.Orleans.Storage")
                    .AddAspNetCoreInstrumentation())
                .UseOtlpExporter();
        }
    }
}
