namespace Grid.Host.Hosting;

/// <summary>Where grain state, membership and reminders live.</summary>
public enum GridStorageKind
{
    /// <summary>In memory, one silo, localhost clustering: nothing survives a restart.</summary>
    Memory,

    /// <summary>PostgreSQL via the Orleans ADO.NET providers (<c>ConnectionStrings:Grid</c>).</summary>
    Postgres,
}

/// <summary>Host settings bound from <c>Grid</c>.</summary>
public sealed class GridHostOptions
{
    public const string Section = "Grid";

    /// <summary>Default: <see cref="GridStorageKind.Memory"/>.</summary>
    public GridStorageKind Storage { get; set; } = GridStorageKind.Memory;

    public GridClusterOptions Cluster { get; set; } = new();

    public GridDemoOptions Demo { get; set; } = new();

    public GridDashboardOptions Dashboard { get; set; } = new();
}

/// <summary>Cluster settings bound from <c>Grid:Cluster</c>.</summary>
public sealed class GridClusterOptions
{
    /// <summary>Default: <c>grid</c>.</summary>
    public string ClusterId { get; set; } = "grid";

    /// <summary>Default: <c>grid-orleans</c>. Must stay the same across deployments: it keys stored state.</summary>
    public string ServiceId { get; set; } = "grid-orleans";

    /// <summary>Default: 11111.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Default: 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The address other silos reach this one at. Default: loopback in memory mode, else the first non-loopback IPv4.</summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>How long a membership probe may take before it counts as missed. Default: 2 s.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Missed probes (by different silos) that declare a silo dead. Default: 2.</summary>
    public int NumMissedProbesLimit { get; set; } = 2;

    /// <summary>How often each silo re-reads the membership table. Default: 5 s.</summary>
    public TimeSpan TableRefreshTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A silo (PostgreSQL only) whose database link fails this long while another silo reaches the database leaves
    /// the cluster: that silo declares it dead and this process exits with code 75, so its grains move (see
    /// <see cref="StorageLossGuard"/>). Zero turns it off. Default: 1.5 s.
    /// </summary>
    public TimeSpan StorageLossTimeout { get; set; } = TimeSpan.FromSeconds(1.5);

    /// <summary>Mutual TLS between silos (<c>Grid:Cluster:Tls</c>). Default: off.</summary>
    public GridTlsOptions Tls { get; set; } = new();
}

/// <summary>The simulated demo farm, bound from <c>Grid:Demo</c>.</summary>
public sealed class GridDemoOptions
{
    /// <summary>Simulated nodes over 3 farms in 3 countries. Default: 20 with in-memory storage, 0 with PostgreSQL.</summary>
    public int? Nodes { get; set; }

    public int EffectiveNodes(GridStorageKind storage) => Nodes ?? (storage == GridStorageKind.Memory ? 20 : 0);
}
