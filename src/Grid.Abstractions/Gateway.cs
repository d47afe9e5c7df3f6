using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Grid;

/// <summary>How gateways probe a name's backends: a GET of <paramref name="Path"/> every <paramref name="Interval"/>, 2xx/3xx passes.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.name-health-check")]
public sealed record NameHealthCheck([property: Id(0)] string Path, [property: Id(1)] TimeSpan Interval)
{
    /// <summary>A GET of <c>/</c> every 2 s: what a name without its own check is probed with.</summary>
    public static readonly NameHealthCheck Default = new("/", TimeSpan.FromSeconds(2));
}

/// <summary>A backend of a name as its owner gave it: a workload's published port (by name), or a fixed URL.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.name-backend")]
public sealed record NameBackend([property: Id(0)] long? WorkloadId, [property: Id(1)] string? Port, [property: Id(2)] string? Url);

/// <summary>Whether a backend gets traffic, as the grid sees it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<BackendState>))]
public enum BackendState
{
    /// <summary>Its health check passed at a gateway: it gets traffic.</summary>
    [JsonStringEnumMemberName("healthy")]
    Healthy,

    /// <summary>It runs, but its health check has not passed (yet): it gets no traffic.</summary>
    [JsonStringEnumMemberName("unhealthy")]
    Unhealthy,

    /// <summary>Its workload is being moved to another node: it gets traffic again once it runs and passes there.</summary>
    [JsonStringEnumMemberName("moving")]
    Moving,

    /// <summary>Its workload does not run (failed, stopped, deleted, not yet started, or no such port).</summary>
    [JsonStringEnumMemberName("not-running")]
    NotRunning,
}

/// <summary>One destination of a route, as gateways receive it: an id stable across moves and where it is reached now.</summary>
/// <param name="Id">Stable id: <c>w&lt;workload&gt;-&lt;port&gt;</c> or <c>url-&lt;n&gt;</c>.</param>
/// <param name="Address">Base URL, e.g. <c>http://10.0.0.5:23456</c>.</param>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.gateway-destination")]
public sealed record GatewayDestination([property: Id(0)] string Id, [property: Id(1)] string Address);

/// <summary>A name as every gateway routes it: requests with <paramref name="Host"/> go to the healthy destinations.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.gateway-route")]
public sealed record GatewayRoute(
    [property: Id(0)] string Name,
    [property: Id(1)] string Host,
    [property: Id(2)] ImmutableArray<GatewayDestination> Destinations,
    [property: Id(3)] NameHealthCheck HealthCheck);

/// <summary>The whole route table gateway nodes serve, at a version that changes with it.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.gateway-routes")]
public sealed record GatewayRoutes([property: Id(0)] long Version, [property: Id(1)] ImmutableArray<GatewayRoute> Routes)
{
    /// <summary>No routes.</summary>
    public static readonly GatewayRoutes Empty = new(0, []);
}

/// <summary>Bytes a gateway proxied for one name (request bodies and headers in, responses out) since its last acknowledged report.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.name-traffic")]
public sealed record NameTraffic([property: Id(0)] string Name, [property: Id(1)] long BytesIn, [property: Id(2)] long BytesOut);

/// <summary>
/// The gateway node that carried a name's traffic, with its farm and the farm owner's twin (who earns the farmer's
/// share of the traffic's bill lines), as the node grain knows them from its registration.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.traffic-carrier")]
public sealed record TrafficCarrier([property: Id(0)] long NodeId, [property: Id(1)] long FarmId, [property: Id(2)] long FarmerTwinId);

/// <summary>What a gateway saw of a destination's health (the grid shows it per backend).</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.destination-health")]
public sealed record DestinationHealth([property: Id(0)] string Name, [property: Id(1)] string DestinationId, [property: Id(2)] bool Healthy, [property: Id(3)] string? Reason);
