namespace Grid;

/// <summary>Node health settings, bound from <c>Grid:Health</c>.</summary>
public sealed class GridHealthOptions
{
    public const string Section = "Grid:Health";

    /// <summary>How often node agents heartbeat. Default: 3 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>A node with no heartbeat for this long is declared down. Default: 9 s.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(9);

    /// <summary>A node back from down must stay up this long before it takes new placements. Default: 30 s.</summary>
    public TimeSpan RejoinAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often each index shard scans its nodes' heartbeat times. Default: 1 s.</summary>
    public TimeSpan ScanInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// After a shard (re)activates, e.g. on a controller or silo restart, every node gets this long before it
    /// can be declared down. Default: the heartbeat timeout plus one interval (null).
    /// </summary>
    public TimeSpan? StartupGrace { get; set; }

    /// <summary>
    /// A node that is still up but has not beaten for this long is suspect: it counts towards the mass-failure brake
    /// as if lost, so a farm whose nodes go silent together is braked from its first node declared down, not from
    /// the one that tips the share (the others time out a moment later, their moves would go unpaced meanwhile).
    /// Nothing else changes for a suspect node. Must be positive and below <see cref="HeartbeatTimeout"/>.
    /// Default: half the heartbeat timeout (null).
    /// </summary>
    public TimeSpan? SuspectAfter { get; set; }

    /// <summary>Share of a farm's or country's nodes going down within the window that engages the brake. Default: 0.5.</summary>
    public double MassFailureShare { get; set; } = 0.5;

    /// <summary>Moves per second out of a farm or country while the brake is engaged. Default: 20.</summary>
    public double MassFailureMovesPerSecond { get; set; } = 20;

    /// <summary>The window in which down transitions count towards the brake. Default: 60 s.</summary>
    public TimeSpan MassFailureWindow { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Backoff between retries of an unschedulable reservation. Default: 2 s, doubling up to 60 s.</summary>
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How often a node checks allocations at least this old against their reservations and releases those
    /// no reservation points to (left by a crash between allocation and the reservation's write). Checked on
    /// the node's heartbeats (no timer per node); farms check their addresses on the same interval. Default: 1 min.
    /// </summary>
    public TimeSpan OrphanCheckInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How often index shards ask down or draining nodes that still hold allocations to move them: moves run in
    /// the silo of the node grain, so this finds again what a lost silo (or a failed move) left. A node backs off
    /// (doubling up to 60 s) while some stay, e.g. pinned reservations. Default: 2 s.
    /// </summary>
    public TimeSpan EvacuationRecheck { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Failures counted against a node (its workloads failing to start or crash-looping for reasons that are not the
    /// tenant's, see <see cref="Nodes.FailureBlame"/>; one per workload and placement) within
    /// <see cref="QuarantineWindow"/> that quarantine it. Each counted failure already ranks it lower. Default: 5.
    /// </summary>
    public int QuarantineFailures { get; set; } = 5;

    /// <summary>The window in which failures count towards quarantine. Default: 10 min.</summary>
    public TimeSpan QuarantineWindow { get; set; } = TimeSpan.FromMinutes(10);

    public TimeSpan EffectiveStartupGrace => StartupGrace ?? HeartbeatTimeout + HeartbeatInterval;

    public TimeSpan EffectiveSuspectAfter => SuspectAfter ?? HeartbeatTimeout / 2;
}

/// <summary>Capacity index settings, bound from <c>Grid:Index</c>. Must be equal on every silo.</summary>
public sealed class GridIndexOptions
{
    public const string Section = "Grid:Index";

    /// <summary>Number of index/health shards. Default: 8.</summary>
    public int Shards { get; set; } = 8;

    /// <summary>How often each silo refreshes its local copy of the index. Default: 200 ms.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    public long ShardOf(long nodeId) => nodeId % Shards;
}
