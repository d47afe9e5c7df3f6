using System.Collections.Immutable;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Grid.Agent.Gateway;

/// <summary>
/// A gateway node's proxy of names: Kestrel inside the agent on <see cref="AgentOptions.GatewayListen"/> (and TLS on
/// <see cref="AgentOptions.GatewayListenTls"/> with the operator's PEM certificate), YARP routing by <c>Host</c> to
/// one cluster per name. Its table comes from heartbeat answers (<see cref="Delivered"/>); YARP is only ever given
/// the destinations that passed their health check here (<see cref="DestinationProber"/>), so a backend gets no
/// request before it is ready. Reconfiguring swaps YARP's in-memory configuration, which keeps in-flight requests.
/// Bytes per name are counted (<see cref="TrafficMeter"/>) and go out with heartbeats (<see cref="Outgoing"/>).
/// </summary>
internal sealed partial class GatewayServer : IAsyncDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly AgentOptions _options;
    private readonly string _hostAddress;
    private readonly ILogger _logger;
    private readonly HttpClient _probeClient;
    private readonly DestinationProber _prober;
    private readonly TrafficMeter _meter;
    private readonly Lock _lock = new();
    private GatewayRoutes? _routes;
    private long _healthDelivered = -1;
    private WebApplication? _app;
    private InMemoryConfigProvider? _config;

    /// <summary>Makes the gateway; <see cref="StartAsync"/> starts listening.</summary>
    /// <param name="options">The agent's settings (<see cref="AgentOptions.GatewayListen"/> must be set).</param>
    /// <param name="hostAddress">The node's public address: what a wildcard listen address is reported as.</param>
    /// <param name="logger">Where the gateway logs.</param>
    /// <param name="time">Clock of the health checks.</param>
    public GatewayServer(AgentOptions options, string hostAddress, ILogger logger, TimeProvider time)
    {
        _options = options;
        _hostAddress = hostAddress;
        _logger = logger;
        _probeClient = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false, ConnectTimeout = ConnectTimeout });
        _prober = new DestinationProber(_probeClient, time, logger, Reconfigure);
        _meter = new TrafficMeter(Path.Combine(options.WorkDir, "gateway", "traffic.json"));
    }

    /// <summary>The plain HTTP endpoint the gateway listens on (its real port once started).</summary>
    public IPEndPoint? HttpEndpoint { get; private set; }

    /// <summary>The HTTPS endpoint, when TLS is configured.</summary>
    public IPEndPoint? HttpsEndpoint { get; private set; }

    /// <summary>Where names are reached on this node (<c>address:port</c>), reported as <see cref="Heartbeat.GatewayAddress"/>.</summary>
    public string? Address { get; private set; }

    /// <summary>Proxied requests counted since start (a request is counted once its answer ended).</summary>
    public long MeteredRequests => _meter.Requests;

    /// <summary>Version of the route table served, -1 before the first.</summary>
    public long RoutesVersion
    {
        get
        {
            lock (_lock)
            {
                return _routes?.Version ?? -1;
            }
        }
    }

    /// <summary>Reads the traffic state a previous agent left and starts listening.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var http = ParseEndpoint(_options.GatewayListen, nameof(AgentOptions.GatewayListen));
        var https = _options.GatewayListenTls is { } tls ? ParseEndpoint(tls, nameof(AgentOptions.GatewayListenTls)) : null;
        var certificate = https is null ? null : X509Certificate2.CreateFromPemFile(_options.GatewayCertificate!, _options.GatewayKey);
        _meter.Load();

        // Its own folder as content root: no appsettings of the agent's current directory are picked up.
        var root = Directory.CreateDirectory(Path.GetDirectoryName(_meter.Path)!).FullName;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = root });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // A proxy passes bodies of any size; the backend decides what it accepts.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(http);
            if (https is not null)
            {
                kestrel.Listen(https, listen => listen.UseHttps(certificate!));
            }
        });
        builder.Services.AddReverseProxy().LoadFromMemory([], []);
        builder.Services.Replace(ServiceDescriptor.Singleton<IForwarderHttpClientFactory, GatewayHttpClientFactory>());

        var app = builder.Build();
        var pipeline = new GatewayPipeline(_meter, _prober);
        app.MapReverseProxy(proxy =>
        {
            proxy.Use(pipeline.InvokeAsync);
            proxy.UseLoadBalancing();
        });

        // Lowest priority: only requests whose Host is no name's.
        app.MapFallback("{**path}", UnknownNameAsync);
        _config = app.Services.GetRequiredService<InMemoryConfigProvider>();
        await app.StartAsync(cancellationToken);
        _app = app;

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a)).ToList();
        HttpEndpoint = new IPEndPoint(http.Address, bound.First(u => u.Scheme == Uri.UriSchemeHttp).Port);
        HttpsEndpoint = https is null ? null : new IPEndPoint(https.Address, bound.First(u => u.Scheme == Uri.UriSchemeHttps).Port);
        var advertised = http.Address.Equals(IPAddress.Any) || http.Address.Equals(IPAddress.IPv6Any) ? IPAddress.Parse(_hostAddress) : http.Address;
        Address = new IPEndPoint(advertised, HttpEndpoint.Port).ToString();
        LogListening(HttpEndpoint.ToString(), HttpsEndpoint?.ToString() ?? "-", Address);
        lock (_lock)
        {
            if (_routes is not null)
            {
                ReconfigureLocked();
            }
        }
    }

    /// <summary>Serves <paramref name="routes"/> (when its version differs from the one served): probes start for new destinations.</summary>
    public void Apply(GatewayRoutes routes)
    {
        lock (_lock)
        {
            if (_routes?.Version == routes.Version)
            {
                return;
            }

            _routes = routes;
            _prober.Apply(routes.Routes.IsDefault ? [] : routes.Routes);
            ReconfigureLocked();
        }

        LogRoutes(routes.Version, routes.Routes.IsDefault ? 0 : routes.Routes.Length);
    }

    /// <summary>What the next heartbeat carries: the address, unacknowledged traffic, and the health list when it changed since last delivered.</summary>
    public GatewayReport Outgoing()
    {
        var version = _prober.Version;
        var health = version != Interlocked.Read(ref _healthDelivered) ? _prober.Health() : (ImmutableArray<DestinationHealth>?)null;
        return new GatewayReport(Address, _meter.Outgoing(), health, version);
    }

    /// <summary>The controller answered the heartbeat that carried <paramref name="sent"/>: drops acknowledged traffic, applies a new route table.</summary>
    public void Delivered(GatewayReport sent, HeartbeatResponse response)
    {
        _meter.Acknowledge(response.TrafficAcknowledged);
        if (sent.Health is not null)
        {
            Interlocked.Exchange(ref _healthDelivered, sent.HealthVersion);
        }

        if (response.Routes is { } routes)
        {
            Apply(routes);
        }
    }

    /// <summary>Stops listening (in-flight requests get a moment to finish), stops the probes and saves the traffic counts.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
            {
                await app.StopAsync(grace.Token);
            }

            await app.DisposeAsync();
        }

        await _prober.DisposeAsync();
        _probeClient.Dispose();
        _meter.Save();
    }

    private static IPEndPoint ParseEndpoint(string? value, string field) =>
        IPEndPoint.TryParse(value ?? "", out var endpoint) && endpoint.Port is >= 0 and <= 65535
            ? endpoint
            : throw new ArgumentException($"The gateway listen address '{value}' is not an address:port.", field);

    private static Task UnknownNameAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return context.Response.WriteAsJsonAsync(
            new ProblemDetails { Status = 404, Title = "Unknown name", Detail = $"No name is served at '{context.Request.Host.Host}'." },
            options: null,
            contentType: "application/problem+json");
    }

    /// <summary>A destination's health changed: YARP gets the new healthy set.</summary>
    private void Reconfigure()
    {
        lock (_lock)
        {
            ReconfigureLocked();
        }
    }

    private void ReconfigureLocked()
    {
        if (_config is null || _routes is null)
        {
            return;
        }

        var routes = new List<RouteConfig>();
        var clusters = new List<ClusterConfig>();
        foreach (var route in _routes.Routes.IsDefault ? [] : _routes.Routes)
        {
            routes.Add(new RouteConfig { RouteId = route.Name, ClusterId = route.Name, Match = new RouteMatch { Hosts = [route.Host], Path = "/{**rest}" } });
            clusters.Add(new ClusterConfig
            {
                ClusterId = route.Name,
                Destinations = route.Destinations.Where(d => _prober.Healthy(route.Name, d))
                    .ToDictionary(d => d.Id, d => new DestinationConfig { Address = d.Address }, StringComparer.Ordinal),
            });
        }

        _config.Update(routes, clusters);
    }

    [LoggerMessage(82, LogLevel.Information, "Gateway listening on {Http} (TLS {Https}); names reached at {Address}")]
    private partial void LogListening(string http, string https, string address);

    [LoggerMessage(83, LogLevel.Information, "Gateway: route table version {Version} with {Count} names applied")]
    private partial void LogRoutes(long version, int count);

    /// <summary>YARP's clients to destinations, with a connect timeout: a dead remote host fails (and is retried elsewhere) within seconds.</summary>
    private sealed class GatewayHttpClientFactory : ForwarderHttpClientFactory
    {
        protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
        {
            base.ConfigureHandler(context, handler);
            handler.ConnectTimeout = ConnectTimeout;
        }
    }
}
