namespace Grid.Agent;

/// <summary>Settings of one <see cref="NodeAgent"/>.</summary>
public sealed class AgentOptions
{
    /// <summary>Base URL of the grid controller's HTTP API, e.g. <c>http://127.0.0.1:5080</c>.</summary>
    public required Uri ApiUrl { get; init; }

    /// <summary>The node this agent speaks for.</summary>
    public required long NodeId { get; init; }

    /// <summary>The node key returned when the node was registered (sent as bearer token on heartbeats).</summary>
    public string NodeKey { get; init; } = "";

    /// <summary>
    /// The node's Ed25519 private key (base64 seed, from <c>node.key</c>). When set, heartbeats are signed with it
    /// instead of carrying the node key. Default: none.
    /// </summary>
    public string? SigningKey { get; init; }

    /// <summary>Folder of the agent: PID file, credentials and one folder per workload under <c>workloads/</c>.</summary>
    public required string WorkDir { get; init; }

    /// <summary>
    /// What this agent's containers, pod networks and cgroups are named by (<c>grid-&lt;agent&gt;-n&lt;node&gt;-…</c>): eight
    /// hex digits of the SHA-256 of its work directory's full path. The node id alone is not unique on a machine: two
    /// grids number their nodes alike (each from 1), and their agents deleted each other's containers and pod networks
    /// as strays, and ran a workload of one grid in the cgroup of the other's. Two agents never share a work directory
    /// (it holds their state files), so this is the agent's own.
    /// </summary>
    public string Agent => _agent ??= AgentOf(WorkDir);

    private string? _agent;

    /// <summary>What this agent's container ids and pod namespace names begin with: <c>grid-&lt;agent&gt;-n&lt;node&gt;-</c>.</summary>
    public string NamePrefix => _namePrefix ??= NamePrefixOf(NodeId, WorkDir);

    private string? _namePrefix;

    /// <summary>The <see cref="Agent"/> of an agent whose work directory is <paramref name="workDir"/>.</summary>
    public static string AgentOf(string workDir) => Convert.ToHexStringLower(
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(workDir))))[..8];

    /// <summary>The <see cref="NamePrefix"/> of the agent of node <paramref name="nodeId"/> working in <paramref name="workDir"/>.</summary>
    public static string NamePrefixOf(long nodeId, string workDir) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"grid-{AgentOf(workDir)}-n{nodeId}-");

    /// <summary>
    /// Whether <c>process</c> workloads run for real on this machine. They run as the agent's user with its
    /// rights, so a farmer opts in explicitly. When false they are reported <c>failed</c>. Default: false.
    /// </summary>
    public bool AllowProcessWorkloads { get; init; }

    /// <summary>
    /// The unprivileged user <c>process</c> workloads run as when the agent runs as root (created when missing;
    /// root is refused). An agent running as another user runs them as itself. Default: <c>grid-workload</c>.
    /// </summary>
    public string WorkloadUser { get; init; } = "grid-workload";

    /// <summary>Commands tenants may run (exact <c>process.command</c> values); empty allows any. Default: any.</summary>
    public IReadOnlyList<string> AllowedCommands { get; init; } = [];

    /// <summary>
    /// Refuse <c>process</c> workloads when cgroups cannot hold them to their reservation. When false they run
    /// unlimited and the agent logs why at start. Default: false.
    /// </summary>
    public bool RequireResourceLimits { get; init; }

    /// <summary>
    /// Whether <c>container</c> workloads may run here. They run when runc, skopeo and umoci work and user namespaces
    /// are allowed (each container is isolated, so no opt-in is needed); <c>--no-containers</c> turns them off.
    /// Default: true.
    /// </summary>
    public bool ContainersEnabled { get; init; } = true;

    /// <summary>The runc the agent runs containers with: a path, or a name looked up on PATH (<c>--runc</c>). Default: runc.</summary>
    public string Runc { get; init; } = "runc";

    /// <summary>
    /// The address published ports are reached at (listened on by the agent and shown in workload endpoints).
    /// Default: null, the local address the agent reaches the controller from.
    /// </summary>
    public string? PublicAddress { get; init; }

    /// <summary>Host ports published container ports are picked from (inclusive). Default: 20000-32000 (Nomad's).</summary>
    public int PortRangeStart { get; init; } = 20000;

    /// <summary>Last host port of the range published container ports are picked from. Default: 32000.</summary>
    public int PortRangeEnd { get; init; } = 32000;

    /// <summary>
    /// First host uid (and gid) container roots are mapped to: container uid N runs as host uid
    /// <c>ContainerUidBase + N</c>, never host root. Default: 100000 (65,536 ids).
    /// </summary>
    public int ContainerUidBase { get; init; } = 100000;

    /// <summary>
    /// Space the node's image cache may take before unused images are removed (<c>--image-cache-size</c>). Reported
    /// in heartbeats: the controller holds it out of the node's <c>sru</c>, so reservations never get that disk.
    /// Default: 10 GiB.
    /// </summary>
    public long ImageCacheBytes { get; init; } = DefaultImageCacheBytes;

    /// <summary>The default of <see cref="ImageCacheBytes"/>: 10 GiB.</summary>
    public const long DefaultImageCacheBytes = 10L << 30;

    /// <summary>
    /// Where this node serves names as a gateway (<c>--gateway-listen 0.0.0.0:80</c>): the node reports the
    /// <c>gateway</c> feature and proxies every name of the grid. Default: null, not a gateway.
    /// </summary>
    public string? GatewayListen { get; init; }

    /// <summary>Where the gateway also terminates TLS (<c>--gateway-listen-tls</c>), with <see cref="GatewayCertificate"/>. Default: null.</summary>
    public string? GatewayListenTls { get; init; }

    /// <summary>PEM file of the operator's (wildcard) certificate for the names' domain. Default: null.</summary>
    public string? GatewayCertificate { get; init; }

    /// <summary>PEM file of <see cref="GatewayCertificate"/>'s private key. Default: null.</summary>
    public string? GatewayKey { get; init; }

    /// <summary>
    /// The node's GPUs as given (<c>--gpu id=…,vendor=…,device=…,memory=…</c>); when empty the agent reads them from
    /// <c>/sys/bus/pci</c> and <c>nvidia-smi</c>. Default: none given.
    /// </summary>
    public IReadOnlyList<GpuDevice> Gpus { get; init; } = [];

    /// <summary>The node's latitude in degrees (<c>--latitude</c>), sent with its heartbeats for placement by distance. Default: none.</summary>
    public double? Latitude { get; init; }

    /// <summary>The node's longitude in degrees (<c>--longitude</c>). Default: none.</summary>
    public double? Longitude { get; init; }

    /// <summary>Time between heartbeats. Default: 3 s.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Self-fencing: when the controller has not answered for longer than this, the agent stops its process
    /// workloads, because the controller has most likely moved them elsewhere. Null disables it.
    /// Default: 9 s (the controller's heartbeat timeout).
    /// </summary>
    public TimeSpan? StopOnDisconnectAfter { get; init; } = TimeSpan.FromSeconds(9);

    /// <summary>
    /// Whether <see cref="HeartbeatInterval"/> was chosen by the operator. Otherwise the agent follows the interval
    /// the controller sends in every heartbeat answer. Default: false.
    /// </summary>
    public bool HeartbeatIntervalGiven { get; init; }

    /// <summary>
    /// Whether <see cref="StopOnDisconnectAfter"/> was chosen by the operator. Otherwise the agent fences before the
    /// controller can declare its node down: the controller's timeout minus one interval and the request latency.
    /// Default: false.
    /// </summary>
    public bool StopOnDisconnectAfterGiven { get; init; }

    /// <summary>
    /// Whether the agent long-polls the controller for changes of its desired workloads next to its heartbeats,
    /// so a placement starts at once instead of at the next heartbeat. Default: true.
    /// </summary>
    public bool WatchDesired { get; init; } = true;

    /// <summary>Timeout of one HTTP request to the controller. Default: 5 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Time a workload gets between SIGTERM and SIGKILL. Default: 5 s.</summary>
    public TimeSpan StopGracePeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Delay before the first restart of an exited workload; doubles per quick exit. Default: 1 s.</summary>
    public TimeSpan RestartBackoffInitial { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Largest restart delay; a workload that ran longer than this starts over at the initial delay. Default: 60 s.</summary>
    public TimeSpan RestartBackoffMax { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often child processes are checked between heartbeats. Default: 250 ms.</summary>
    public TimeSpan SupervisionInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Throws <see cref="ArgumentException"/> when a setting cannot work.</summary>
    public void Validate()
    {
        if (NodeId <= 0)
        {
            throw new ArgumentException("The node id must be positive.", nameof(NodeId));
        }

        if (string.IsNullOrWhiteSpace(NodeKey) && string.IsNullOrWhiteSpace(SigningKey))
        {
            throw new ArgumentException("The node key and the signing key are missing.", nameof(NodeKey));
        }

        if ((Latitude is null) != (Longitude is null) || Latitude is < -90 or > 90 || Longitude is < -180 or > 180)
        {
            throw new ArgumentException("The latitude (-90..90) and longitude (-180..180) are given together.", nameof(Latitude));
        }

        if (string.IsNullOrWhiteSpace(WorkDir))
        {
            throw new ArgumentException("The work directory is missing.", nameof(WorkDir));
        }

        if (HeartbeatInterval <= TimeSpan.Zero || SupervisionInterval <= TimeSpan.Zero || RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("Intervals and timeouts must be positive.", nameof(HeartbeatInterval));
        }

        if (StopOnDisconnectAfter is { } fence && fence <= TimeSpan.Zero)
        {
            throw new ArgumentException("StopOnDisconnectAfter must be positive, or null to disable it.", nameof(StopOnDisconnectAfter));
        }

        if (PortRangeStart is < 1 or > 65535 || PortRangeEnd is < 1 or > 65535 || PortRangeEnd < PortRangeStart)
        {
            throw new ArgumentException($"The port range {PortRangeStart}-{PortRangeEnd} must be within 1-65535, its end at least its start.", nameof(PortRangeStart));
        }

        if (PublicAddress is { } address && !System.Net.IPAddress.TryParse(address, out _))
        {
            throw new ArgumentException($"The public address '{address}' is not an IP address.", nameof(PublicAddress));
        }

        if (GatewayListenTls is not null && (GatewayCertificate is null || GatewayKey is null))
        {
            throw new ArgumentException("--gateway-listen-tls needs --gateway-certificate and --gateway-key.", nameof(GatewayListenTls));
        }

        if (ImageCacheBytes < 0)
        {
            throw new ArgumentException("The image cache size must be 0 or more bytes.", nameof(ImageCacheBytes));
        }

        if (ContainerUidBase < 1)
        {
            throw new ArgumentException("Container roots must map to an unprivileged host uid (ContainerUidBase ≥ 1).", nameof(ContainerUidBase));
        }

        if (RestartBackoffInitial <= TimeSpan.Zero || RestartBackoffMax < RestartBackoffInitial)
        {
            throw new ArgumentException("Restart backoff must be positive and its maximum at least its start.", nameof(RestartBackoffMax));
        }
    }
}
