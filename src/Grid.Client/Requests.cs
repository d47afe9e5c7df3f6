using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Grid.Client;

// The request bodies of /api/v1, read by the host and sent by every client. Members are nullable so the host tells a
// missing field apart from a zero and reports it by name; trailing ones default to null for the clients' sake
// (a missing member and a null read the same).

/// <summary>Body of <c>POST /api/v1/twins</c>; <see cref="PublicKey"/> is the twin's Ed25519 key for signed requests.</summary>
public sealed record CreateTwinRequest(string? Name, string? PublicKey = null);

/// <summary>One public IPv4 address of a farm (CIDR) and its gateway.</summary>
public sealed record PublicIpRequest(string? Ip, string? Gateway);

/// <summary>Body of <c>POST /api/v1/farms</c>.</summary>
public sealed record CreateFarmRequest(
    string? Name,
    FarmCertification? Certification = null,
    ImmutableArray<PublicIpRequest>? PublicIps = null,
    double? CpuOvercommit = null);

/// <summary>Capacity in a request: <c>cru</c> cores, <c>mru</c>/<c>sru</c>/<c>hru</c> bytes, <c>ipv4</c> public addresses.</summary>
public sealed record ResourcesRequest(long? Cru, long? Mru, long? Sru, long? Hru, int? Ipv4 = null, int? Gpu = null)
{
    // Read member by member, without boxing its numbers (see WorkloadReportRequest): every placement carries one.
    [JsonConstructor]
    private ResourcesRequest()
        : this(null, null, null, null)
    {
    }

    /// <summary>The request form of <paramref name="capacity"/>, every unit given (GPUs when any).</summary>
    public static ResourcesRequest Of(Capacity capacity)
    {
        ArgumentNullException.ThrowIfNull(capacity);
        return new(capacity.Cru, capacity.Mru, capacity.Sru, capacity.Hru, capacity.Ipv4, capacity.Gpu > 0 ? capacity.Gpu : null);
    }
}

/// <summary>Where a node stands; <c>latitude</c>/<c>longitude</c> in degrees place it for <c>constraints.near</c>.</summary>
public sealed record LocationRequest(string? Country, string? City, double? Latitude = null, double? Longitude = null);

/// <summary>A GPU of a node: its id (PCI address), vendor and device names, memory in MiB.</summary>
public sealed record GpuRequest(string? Id, string? Vendor, string? Device, long? Memory = null);

/// <summary><c>constraints.near</c>: a point (degrees) and the farthest a node may be from it (km).</summary>
public sealed record NearRequest(double? Lat, double? Lon, double? MaxKm);

/// <summary>Body of <c>POST /api/v1/nodes</c>; <see cref="PublicKey"/> is the agent's heartbeat signing key.</summary>
public sealed record CreateNodeRequest(
    long? FarmId,
    ResourcesRequest? Resources,
    LocationRequest? Location,
    NodeCertification? Certification = null,
    string? PublicKey = null,
    ImmutableArray<GpuRequest>? Gpus = null);

/// <summary>Body of <c>POST /api/v1/nodes/{id}/drain</c>.</summary>
public sealed record DrainRequest(int? MaxParallel);

/// <summary>One workload's state in a heartbeat.</summary>
public sealed record WorkloadReportRequest(
    long? WorkloadId,
    long? Epoch,
    WorkloadState? State,
    int? Restarts,
    string? Message,
    string? Reason = null,
    string? Digest = null,
    ImmutableArray<WorkloadEndpoint>? Endpoints = null,
    string? Logs = null)
{
    // How System.Text.Json reads it: made empty, then set member by member. Through the positional constructor (more
    // than four parameters) it kept every argument as an object, boxing each number of each report: a heartbeat
    // with 100 reports allocated a third of its bytes there. The JSON read is the same.
    [JsonConstructor]
    private WorkloadReportRequest()
        : this(null, null, null, null, null)
    {
    }
}

/// <summary>
/// Body of <c>POST /api/v1/nodes/{id}/heartbeat</c> as the host reads it. Agents send <see cref="Heartbeat"/>, the
/// grain's wire record, which has the same JSON (checked by a contract test).
/// </summary>
public sealed record HeartbeatRequest(
    long? Uptime,
    ImmutableArray<WorkloadReportRequest>? Workloads,
    ImmutableArray<string>? Features = null,
    string? Address = null,
    string? GatewayAddress = null,
    ImmutableArray<NameTraffic>? Traffic = null,
    long? TrafficSequence = null,
    ImmutableArray<DestinationHealth>? Health = null,
    ImageCacheUsage? ImageCache = null,
    string? AgentVersion = null,
    ImmutableArray<GpuDevice>? Gpus = null,
    double? Latitude = null,
    double? Longitude = null,
    long? DesiredVersion = null,
    long? ReportsVersion = null,
    long? ReportsBase = null)
{
    // Read member by member, without boxing its numbers (see WorkloadReportRequest): every heartbeat is one.
    [JsonConstructor]
    private HeartbeatRequest()
        : this(null, null)
    {
    }
}

/// <summary>Placement constraints of a reservation; null members do not constrain.</summary>
public sealed record ConstraintsRequest(
    ImmutableArray<long>? FarmIds = null,
    string? Country = null,
    bool? Certified = null,
    long? NodeId = null,
    string? AntiAffinityGroup = null,
    long? MaxPricePerHour = null,
    ImmutableArray<string>? Features = null,
    ImmutableArray<string>? GpuModels = null,
    NearRequest? Near = null);

/// <summary>Body of <c>POST /api/v1/reservations</c> and of <c>POST /api/v1/quotes</c>.</summary>
/// <param name="Resources">What it holds.</param>
/// <param name="Constraints">Where it may go.</param>
/// <param name="Strategy">How a node is chosen among those that fit.</param>
/// <param name="SolutionProvider">An approved solution provider's twin id: it is paid its share of the grid's part of every bill line.</param>
/// <param name="Priority">0–100, default 50: a reservation at least 10 points higher may preempt it when nothing else fits.</param>
/// <param name="Spot">Spot capacity: cheaper (<c>Grid:Billing:SpotDiscount</c> off), preemptible by any reservation that is not spot.</param>
public sealed record CreateReservationRequest(
    ResourcesRequest? Resources,
    ConstraintsRequest? Constraints = null,
    PlacementStrategy? Strategy = null,
    long? SolutionProvider = null,
    int? Priority = null,
    bool? Spot = null)
{
    // Read member by member, without boxing its values (see WorkloadReportRequest): every placement is one.
    [JsonConstructor]
    private CreateReservationRequest()
        : this((ResourcesRequest?)null)
    {
    }
}

/// <summary>The operator approves a solution provider: <c>share</c> of the grid's part of each bill line, in (0, 0.5].</summary>
public sealed record ApproveProviderRequest(long? TwinId, decimal? Share);

/// <summary>What a process workload runs.</summary>
public sealed record ProcessRequest(string? Command, ImmutableArray<string>? Args = null, ImmutableDictionary<string, string>? Env = null);

/// <summary>A port a container listens on (<c>name</c> becomes <c>GRID_PORT_&lt;name&gt;</c>).</summary>
public sealed record PortRequest(string? Name, int? Port);

/// <summary>A volume of the same reservation mounted into a container.</summary>
public sealed record MountRequest(string? Volume, string? Path, bool? ReadOnly = null);

/// <summary>Credentials for one image pull: used for the pull, never stored or logged.</summary>
public sealed record AuthRequest(string? Username, string? Password)
{
    public override string ToString() => $"AuthRequest {{ Username = {Username}, Password = *** }}";
}

/// <summary>What a container workload runs.</summary>
public sealed record ContainerRequest(
    string? Image,
    ImmutableArray<string>? Entrypoint = null,
    ImmutableArray<string>? Args = null,
    ImmutableDictionary<string, string>? Env = null,
    string? Workdir = null,
    ImmutableArray<PortRequest>? Ports = null,
    ImmutableArray<MountRequest>? Mounts = null,
    string? Restart = null,
    AuthRequest? Auth = null);

/// <summary>A volume workload: its size in bytes.</summary>
public sealed record VolumeRequest(long? Size);

/// <summary>Body of <c>POST /api/v1/reservations/{id}/workloads</c>.</summary>
public sealed record CreateWorkloadRequest(
    string? Name,
    WorkloadType? Type,
    ResourcesRequest? Resources = null,
    ProcessRequest? Process = null,
    ContainerRequest? Container = null,
    VolumeRequest? Volume = null);

/// <summary>Body of <c>PUT /api/v1/farms/{id}/prices</c> (minor units per hour).</summary>
public sealed record PriceListRequest(long? Cu, long? Su, long? Ipu, long? Nu = null);

/// <summary>Body of a deposit or withdrawal (minor units, 10^7 per currency unit).</summary>
public sealed record AmountRequest(long? Amount);

/// <summary>Body of <c>POST /api/v1/keys</c>: roles default to all of the caller's.</summary>
public sealed record CreateApiKeyRequest(string? Name, ImmutableArray<string>? Roles = null);

/// <summary>Body of <c>PUT /api/v1/twins/me/public-key</c>.</summary>
public sealed record PublicKeyRequest(string? PublicKey);

/// <summary>A backend of a name: a workload's published port by name, or a fixed <c>http(s)://</c> URL.</summary>
public sealed record NameBackendRequest(long? WorkloadId = null, string? Port = null, string? Url = null);

/// <summary>How gateways probe a name's backends; <c>interval</c> like <c>2s</c>.</summary>
public sealed record HealthCheckRequest(string? Path = null, string? Interval = null);

/// <summary>Body of <c>POST /api/v1/names</c>.</summary>
public sealed record CreateNameRequest(string? Name, ImmutableArray<NameBackendRequest>? Backends, HealthCheckRequest? HealthCheck = null);

/// <summary>Body of <c>PUT /api/v1/names/{name}</c>: the backends and health check replace the name's.</summary>
public sealed record UpdateNameRequest(ImmutableArray<NameBackendRequest>? Backends, HealthCheckRequest? HealthCheck = null);
