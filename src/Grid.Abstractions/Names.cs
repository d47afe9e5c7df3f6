using System.Collections.Immutable;

namespace Grid;

/// <summary>
/// A backend of a name as the grid shows it: what the owner gave and, in <c>GET /api/v1/names/{name}</c>, whether it
/// gets traffic (state) and why not (reason, e.g. <c>workload failed</c> or a gateway's probe result); both are null in
/// lists and in create/update answers.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.name-backend-status")]
public sealed record NameBackendStatus(
    [property: Id(0)] long? WorkloadId,
    [property: Id(1)] string? Port,
    [property: Id(2)] string? Url,
    [property: Id(3)] BackendState? State = null,
    [property: Id(4)] string? Reason = null);

/// <summary>
/// A gateway name: unique grid-wide, owned by one twin, routed by every gateway node to its backends, reached at its
/// URL <c>http://&lt;name&gt;.&lt;Grid:Gateways:Domain&gt;</c>.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.name-info")]
public sealed record NameInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] long TwinId,
    [property: Id(2)] string Url,
    [property: Id(3)] ImmutableArray<NameBackendStatus> Backends,
    [property: Id(4)] NameHealthCheck HealthCheck,
    [property: Id(5)] DateTimeOffset CreatedAt,
    [property: Id(6)] DateTimeOffset UpdatedAt)
{
    /// <summary>Bytes gateways proxied for the name towards its backends (requests) since it was claimed, each report counted once.</summary>
    [Id(7)] public long BytesIn { get; init; }

    /// <summary>Bytes gateways proxied for the name back to clients (responses) since it was claimed.</summary>
    [Id(8)] public long BytesOut { get; init; }
}

/// <summary>
/// What the route table keeps of a claimed name: enough to resolve its destinations and list it by owner. Claim is the
/// claim's number (1 for the first claim of the name, 2 after a release and a new claim, …).
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.name-definition")]
public sealed record NameDefinition(
    [property: Id(0)] string Name,
    [property: Id(1)] long TwinId,
    [property: Id(2)] ImmutableArray<NameBackend> Backends,
    [property: Id(3)] NameHealthCheck HealthCheck,
    [property: Id(4)] long Claim,
    [property: Id(5)] DateTimeOffset CreatedAt,
    [property: Id(6)] DateTimeOffset UpdatedAt);
