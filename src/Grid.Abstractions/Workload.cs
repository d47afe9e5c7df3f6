using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Grid;

public enum WorkloadType
{
    Process,
    Vm,
    Zdb,
    Gateway,

    /// <summary>An OCI image pinned by digest, run with runc in its own namespaces (see <see cref="ContainerSpec"/>).</summary>
    Container,

    /// <summary>A filesystem of a fixed size on the node, mounted into the reservation's containers by name.</summary>
    Volume,
}

/// <summary>
/// A workload's state. Values are only ever appended (stored grain state keeps the number): <c>pulling → starting →
/// running → exited | failed</c> for containers; <see cref="Unsupported"/> for types no node runs yet (<c>zdb</c>).
/// </summary>
public enum WorkloadState
{
    Pending,
    Deploying,
    Running,
    Failed,
    Stopped,
    Deleted,

    /// <summary>The node fetches the workload's image.</summary>
    Pulling,

    /// <summary>The image is here; the node builds the bundle and starts it.</summary>
    Starting,

    /// <summary>Ended by itself and not restarted (restart policy <c>never</c>, or <c>on-failure</c> after exit code 0).</summary>
    Exited,

    /// <summary>A type this grid models but no node runs (<c>zdb</c>): never reported running.</summary>
    Unsupported,
}

/// <summary>Machine-readable reasons a workload is not running; the report's message says the detail.</summary>
public static class WorkloadReasons
{
    public const string ImagePullFailed = "image-pull-failed";
    public const string DigestMismatch = "digest-mismatch";
    public const string NotAnImage = "not-an-image";
    public const string OomKilled = "oom-killed";
    public const string ExitCode = "exit-code";
    public const string NoSuchEntrypoint = "no-such-entrypoint";
    public const string FeatureMissing = "feature-missing";
    public const string Unsupported = "unsupported";
    public const string VolumeMissing = "volume-missing";
    public const string NoSpace = "no-space";
    public const string StartFailed = "start-failed";
    public const string Refused = "refused";
}

/// <summary>What a node can run, as its agent detects at start and reports with every heartbeat.</summary>
public static class NodeFeatures
{
    public const string Process = "process";
    public const string Container = "container";
    public const string Kvm = "kvm";
    public const string Gateway = "gateway";

    /// <summary>Every feature name a reservation may require.</summary>
    public static readonly ImmutableArray<string> Known = [Process, Container, Kvm, Gateway];
}

/// <summary>When a container is started again after it ended.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<ContainerRestart>))]
public enum ContainerRestart
{
    [System.Text.Json.Serialization.JsonStringEnumMemberName("on-failure")]
    OnFailure,

    [System.Text.Json.Serialization.JsonStringEnumMemberName("always")]
    Always,

    [System.Text.Json.Serialization.JsonStringEnumMemberName("never")]
    Never,
}

/// <summary>A port the container listens on, published on the node at a port the agent picks.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.container-port")]
public sealed record ContainerPort([property: Id(0)] string Name, [property: Id(1)] int Port);

/// <summary>A volume of the same reservation mounted into the container.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.container-mount")]
public sealed record ContainerMount([property: Id(0)] string Volume, [property: Id(1)] string Path, [property: Id(2)] bool ReadOnly);

/// <summary>
/// What a <c>container</c> workload runs: an image pinned by digest (<c>host[:port]/repo@sha256:…</c>, or an
/// <c>http(s)://</c> URL of an OCI image archive followed by <c>@sha256:</c> and the file's hash).
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.container-spec")]
public sealed record ContainerSpec(
    [property: Id(0)] string Image,
    [property: Id(1)] ImmutableArray<string> Entrypoint,
    [property: Id(2)] ImmutableArray<string> Args,
    [property: Id(3)] ImmutableDictionary<string, string> Env,
    [property: Id(4)] string? Workdir,
    [property: Id(5)] ImmutableArray<ContainerPort> Ports,
    [property: Id(6)] ImmutableArray<ContainerMount> Mounts,
    [property: Id(7)] ContainerRestart Restart)
{
    /// <summary>
    /// Size in bytes of a container's writable layer when its workload asks no <c>resources.sru</c>: 256 MiB, room for
    /// a shell image's scratch files. The node makes the layer exactly this big and the controller counts it against
    /// the reservation's <c>sru</c>, so the two always agree.
    /// </summary>
    public const long DefaultWritableLayer = 256L << 20;

    /// <summary>The writable layer of a container workload with <paramref name="resources"/>: its <c>sru</c>, else <see cref="DefaultWritableLayer"/>.</summary>
    public static long WritableLayer(Capacity resources) => resources.Sru > 0 ? resources.Sru : DefaultWritableLayer;
}

/// <summary>A <c>volume</c> workload: a filesystem of exactly <paramref name="Size"/> bytes on the node.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.volume-spec")]
public sealed record VolumeSpec([property: Id(0)] long Size);

/// <summary>
/// Credentials for one image pull. Held in memory only (never stored, never logged): <see cref="ToString"/> hides
/// the password.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.pull-credentials")]
public sealed record PullCredentials([property: Id(0)] string Username, [property: Id(1)] string Password)
{
    public override string ToString() => $"PullCredentials {{ Username = {Username}, Password = *** }}";
}

/// <summary>Where a published port of a workload is reached: the node's address and the host port the agent picked.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.workload-endpoint")]
public sealed record WorkloadEndpoint([property: Id(0)] string Name, [property: Id(1)] string Address, [property: Id(2)] int Port);

[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.process-spec")]
public sealed record ProcessSpec(
    [property: Id(0)] string Command,
    [property: Id(1)] ImmutableArray<string> Args,
    [property: Id(2)] ImmutableDictionary<string, string> Env);

[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.workload-spec")]
public sealed record WorkloadSpec(
    [property: Id(0)] string Name,
    [property: Id(1)] WorkloadType Type,
    [property: Id(2)] Capacity Resources,
    [property: Id(3)] ProcessSpec? Process,
    [property: Id(4)] ContainerSpec? Container = null,
    [property: Id(5)] VolumeSpec? Volume = null);

/// <summary>A workload a node should run, at the placement epoch of its reservation.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.workload-assignment")]
public sealed record WorkloadAssignment(
    [property: Id(0)] long WorkloadId,
    [property: Id(1)] long ReservationId,
    [property: Id(2)] long Epoch,
    [property: Id(3)] WorkloadSpec Spec)
{
    /// <summary>The reservation's owner: an agent hands an image pulled with credentials only to the twin that pulled it.</summary>
    [Id(4)] public long TwinId { get; init; }

    /// <summary>Credentials for the image pull, when the tenant gave some; held in memory by the controller, never stored.</summary>
    [Id(5)] public PullCredentials? Auth { get; init; }

    /// <summary>The GPUs of the node its reservation holds (the agent passes them as <c>GRID_GPU_IDS</c> and devices).</summary>
    public ImmutableArray<string> GpuIds { get => _gpuIds.IsDefault ? [] : _gpuIds; init => _gpuIds = value; }

    // Default (not empty) when the sender's release had no such field: Orleans makes records without their initializers.
    [Id(6)] private readonly ImmutableArray<string> _gpuIds;
}

[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.workload-info")]
public sealed record WorkloadInfo(
    [property: Id(0)] long WorkloadId,
    [property: Id(1)] long ReservationId,
    [property: Id(2)] long TwinId,
    [property: Id(3)] WorkloadSpec Spec,
    [property: Id(4)] WorkloadState State,
    [property: Id(5)] long? NodeId,
    [property: Id(6)] long Epoch,
    [property: Id(7)] int Restarts,
    [property: Id(8)] string? Message,
    [property: Id(9)] DateTimeOffset CreatedAt,
    [property: Id(10)] DateTimeOffset UpdatedAt)
{
    /// <summary>Why it does not run (<see cref="WorkloadReasons"/>), null while all is well.</summary>
    [Id(11)] public string? Reason { get; init; }

    /// <summary>The image digest the node verified and runs (<c>sha256:…</c>), for containers.</summary>
    [Id(12)] public string? Digest { get; init; }

    /// <summary>Where its published ports are reached now (the current node's address and host ports).</summary>
    [Id(13)] public ImmutableArray<WorkloadEndpoint> Endpoints { get; init; } = [];
}

/// <summary>What a node agent reports about one workload it runs.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.workload-report")]
public sealed record WorkloadReport(
    [property: Id(0)] long WorkloadId,
    [property: Id(1)] long Epoch,
    [property: Id(2)] WorkloadState State,
    [property: Id(3)] int Restarts = 0,
    [property: Id(4)] string? Message = null)
{
    /// <summary>Why it does not run (<see cref="WorkloadReasons"/>), null while all is well.</summary>
    [Id(5)] public string? Reason { get; init; }

    /// <summary>The image digest the node verified and runs (<c>sha256:…</c>).</summary>
    [Id(6)] public string? Digest { get; init; }

    /// <summary>Where its published ports are reached on this node.</summary>
    [Id(7)] public ImmutableArray<WorkloadEndpoint>? Endpoints { get; init; }

    /// <summary>Output (stdout and stderr) written since the last delivered report, at most a bounded piece.</summary>
    [Id(8)] public string? Logs { get; init; }

    /// <summary>
    /// True when this report tells nothing <paramref name="earlier"/> did not: the same workload at the same epoch, state,
    /// restarts, reason, digest and endpoints, and no output. The message is not compared (it words the state).
    /// </summary>
    /// <param name="earlier">A report of the same workload sent before.</param>
    public bool Repeats(WorkloadReport earlier) =>
        Logs is null or "" && WorkloadId == earlier.WorkloadId && Epoch == earlier.Epoch && State == earlier.State
        && Restarts == earlier.Restarts && Reason == earlier.Reason && Digest == earlier.Digest && SameEndpoints(Endpoints, earlier.Endpoints);

    private static bool SameEndpoints(ImmutableArray<WorkloadEndpoint>? a, ImmutableArray<WorkloadEndpoint>? b) =>
        a is { } x ? b is { } y && x.AsSpan().SequenceEqual(y.AsSpan()) : b is null;
}

[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.heartbeat")]
public sealed record Heartbeat(
    [property: Id(0)] long Uptime,
    [property: Id(1)] ImmutableArray<WorkloadReport> Workloads)
{
    /// <summary>What the node can run (<see cref="NodeFeatures"/>), detected by its agent at start; null from older agents.</summary>
    [Id(2)] public ImmutableArray<string>? Features { get; init; }

    /// <summary>The address published ports are reached at (the agent's <c>--public-address</c>); null from older agents.</summary>
    [Id(3)] public string? Address { get; init; }

    /// <summary>A gateway node's address for names (<c>--gateway-listen</c>); null on other nodes.</summary>
    [Id(4)] public string? GatewayAddress { get; init; }

    /// <summary>
    /// Traffic a gateway proxied per name since its last acknowledged report, under <see cref="TrafficSequence"/>: a
    /// report the controller already applied (same sequence, sent again after a lost answer or an agent restart) is
    /// acknowledged and not counted twice.
    /// </summary>
    [Id(5)] public ImmutableArray<NameTraffic>? Traffic { get; init; }

    /// <summary>Sequence number of <see cref="Traffic"/>, increasing per gateway node across agent restarts; 0: none.</summary>
    [Id(6)] public long TrafficSequence { get; init; }

    /// <summary>What this gateway's health checks saw of each destination (sent when it changes).</summary>
    [Id(7)] public ImmutableArray<DestinationHealth>? Health { get; init; }

    /// <summary>The node's image cache (bytes used and its cap), from agents that run containers; null otherwise.</summary>
    [Id(8)] public ImageCacheUsage? ImageCache { get; init; }
    /// <summary>The agent's release (<see cref="GridRelease.Version"/>); null from agents older than 0.3.0.</summary>
    [Id(9)] public string? AgentVersion { get; init; }

    /// <summary>The GPUs the agent found (or was given with <c>--gpu</c>); null when it has none to report.</summary>
    [Id(10)] public ImmutableArray<GpuDevice>? Gpus { get; init; }

    /// <summary>The node's latitude from the agent's configuration; null when not configured.</summary>
    [Id(11)] public double? Latitude { get; init; }

    /// <summary>The node's longitude from the agent's configuration; null when not configured.</summary>
    [Id(12)] public double? Longitude { get; init; }

    /// <summary>
    /// The <see cref="HeartbeatResponse.DesiredVersion"/> of the desired list the agent holds (the last one it was
    /// answered whole); null when it holds none (at start, and from older agents). When it is still current, the
    /// answer says <see cref="HeartbeatResponse.DesiredUnchanged"/> instead of listing the workloads again.
    /// </summary>
    [Id(13)] public long? DesiredVersion { get; init; }

    /// <summary>
    /// The version of the reports this heartbeat brings the controller to (any number the agent picks, changed whenever
    /// its reports change); null from agents that send every report every time. With it, the answer says
    /// <see cref="HeartbeatResponse.ReportsAcknowledged"/> once the controller holds every report of that version.
    /// </summary>
    [Id(14)] public long? ReportsVersion { get; init; }

    /// <summary>
    /// The acknowledged version <see cref="Workloads"/> is a change of: only the reports that differ from it are sent
    /// (a workload not sent is as it was). Null when <see cref="Workloads"/> is every report the node has.
    /// </summary>
    [Id(15)] public long? ReportsBase { get; init; }
}

/// <summary>A heartbeat's answer: the workloads this node should run (pull model).</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.heartbeat-response")]
public sealed record HeartbeatResponse(
    [property: Id(0)] NodeStatus Status,
    [property: Id(1)] bool Draining,
    [property: Id(2)] ImmutableArray<WorkloadAssignment> Desired)
{
    /// <summary>The controller's heartbeat interval: agents follow it unless told otherwise. 0 from older controllers.</summary>
    [Id(3)] public long HeartbeatIntervalMs { get; init; }

    /// <summary>After this long without a heartbeat the controller declares the node down; agents fence before it.</summary>
    [Id(4)] public long HeartbeatTimeoutMs { get; init; }

    /// <summary>Version of <see cref="Desired"/>, for the long-poll (<c>GET /nodes/{id}/desired?version=</c>).</summary>
    [Id(5)] public long DesiredVersion { get; init; }

    /// <summary>For gateway nodes: every name's route (null for other nodes and from older controllers).</summary>
    [Id(6)] public GatewayRoutes? Routes { get; init; }

    /// <summary>The highest <see cref="Heartbeat.TrafficSequence"/> the controller has applied for this node.</summary>
    [Id(7)] public long TrafficAcknowledged { get; init; }

    /// <summary>
    /// Workloads preempted off this node (no longer in <see cref="Desired"/>) and the notice each gets: the agent
    /// sends SIGTERM at once and kills once the notice is over, instead of its own stop grace. Null when none (and from older controllers).
    /// </summary>
    [Id(8), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public ImmutableArray<StopNotice>? Notices { get; init; }

    /// <summary>
    /// True when the heartbeat's <see cref="Heartbeat.DesiredVersion"/> is <see cref="DesiredVersion"/>: the workloads
    /// are those the agent was answered at that version, and <see cref="Desired"/> is empty (not "run nothing").
    /// Only an agent that sent its version is answered so; written only when true.
    /// </summary>
    [Id(9), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool DesiredUnchanged { get; init; }

    /// <summary>
    /// The <see cref="Heartbeat.ReportsVersion"/> whose reports the controller holds, all of them taken: the agent's next
    /// heartbeat may send only the reports that changed since (with <see cref="Heartbeat.ReportsBase"/>). Null (not
    /// written) when it holds none: every report next time (a new activation of the node, a report it must see again).
    /// </summary>
    [Id(10), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? ReportsAcknowledged { get; init; }
}

/// <summary>A preempted workload's notice: its instance at <paramref name="Epoch"/> is killed <paramref name="GraceMs"/> after SIGTERM.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.stop-notice")]
public sealed record StopNotice(
    [property: Id(0)] long WorkloadId,
    [property: Id(1)] long Epoch,
    [property: Id(2)] long GraceMs);

/// <summary>The long-poll's answer: the workloads a node should run, at a version that changes with them.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.desired-workloads")]
public sealed record DesiredWorkloads(
    [property: Id(0)] long Version,
    [property: Id(1)] ImmutableArray<WorkloadAssignment> Desired);
