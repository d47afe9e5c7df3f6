using System.Collections.Immutable;
using Grid.Scheduling;

namespace Grid.Nodes;

/// <summary>
/// A node's durable state. Its allocations are changed through <see cref="NodeCapacity"/>; what is derived from the
/// status is computed by methods (not properties: the state is stored as JSON).
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.node")]
public sealed class NodeState
{
    [Id(0)] public NodeRegistration? Registration { get; set; }
    [Id(1)] public double CpuOvercommit { get; set; } = 1.0;
    [Id(2)] public Dictionary<long, Allocation> Allocations { get; set; } = [];
    [Id(3)] public NodeStatus Status { get; set; } = NodeStatus.Down;
    [Id(4)] public bool Draining { get; set; }
    [Id(5)] public int DrainMaxParallel { get; set; } = 1;
    [Id(6)] public DateTimeOffset CreatedAt { get; set; }
    [Id(7)] public DateTimeOffset? StatusChangedAt { get; set; }

    /// <summary>Set when the node was declared down once: its next return is subject to the rejoin delay.</summary>
    [Id(8)] public bool HasBeenDown { get; set; }
    [Id(9)] public DateTimeOffset? RejoinAt { get; set; }

    /// <summary>The last heartbeat the down decision saw: where the meters of its reservations stop.</summary>
    [Id(10)] public DateTimeOffset? LastHeartbeatAtDown { get; set; }

    /// <summary>What the node can run, as its agent last reported (<see cref="NodeFeatures"/>); written only when it changes.</summary>
    [Id(11)] public string[] Features { get; set; } = [];

    /// <summary>The address its published ports are reached at, as its agent last reported.</summary>
    [Id(12)] public string? Address { get; set; }

    /// <summary>A gateway node's highest traffic report sequence applied: a report resent at or below it is acknowledged, not counted.</summary>
    [Id(13)] public long TrafficApplied { get; set; }

    /// <summary>
    /// The node's image cache as its agent last reported (null: it runs no containers). Its cap is held out of the
    /// node's <c>sru</c> (<see cref="Sellable"/>); written when the cap changes, the bytes used ride along.
    /// </summary>
    [Id(14)] public ImageCacheUsage? ImageCache { get; set; }
    /// <summary>The release its agent last reported; null until an agent of 0.3.0 or later beats.</summary>
    [Id(15)] public string? AgentVersion { get; set; }
    /// <summary>The twin renting the whole node (its rent lock, see <see cref="NodeRentLock"/>), or null.</summary>
    [Id(16)] public long? RentedBy { get; set; }

    /// <summary>The rent contract holding the lock, or null.</summary>
    [Id(17)] public long? RentContractId { get; set; }

    /// <summary>Quarantined: its workloads kept failing for reasons of its own; no new placements until cleared.</summary>
    [Id(18)] public bool Quarantined { get; set; }

    /// <summary>When the node was quarantined (null while it is not).</summary>
    [Id(19)] public DateTimeOffset? QuarantinedAt { get; set; }

    /// <summary>The GPUs its agent last reported; null: the registration's (an agent reported none).</summary>
    [Id(21)] public GpuDevice[]? Gpus { get; set; }

    /// <summary>Coordinates from the agent's configuration; null: the registration's.</summary>
    [Id(22)] public double? Latitude { get; set; }

    /// <inheritdoc cref="Latitude"/>
    [Id(23)] public double? Longitude { get; set; }

    /// <summary>Counts activations, so summary versions (incarnation, then a counter) only grow whatever the clocks.</summary>
    [Id(20)] public long Incarnation { get; set; }

    /// <summary>SSD bytes held for the image cache: its cap, at most the node's whole SSD.</summary>
    public long ImageCacheSru() => ImageCache?.ReservedOf(Registration?.Resources.Sru ?? 0) ?? 0;

    /// <summary>
    /// What reservations may be given (registered): the node's capacity less the SSD its image cache may fill. The
    /// cap rather than the bytes used now: a pull never has to take disk that was sold, and a sale never waits on
    /// an eviction the controller cannot see.
    /// </summary>
    public Capacity Sellable() => Registration!.Resources with { Sru = Registration.Resources.Sru - ImageCacheSru() };

    /// <summary>
    /// Takes an agent's report of its image cache; true when the SSD held for it changed (then the state is written,
    /// the allocation ledger rebuilt and the summary published). Null: the node runs no containers, nothing is held.
    /// </summary>
    public bool ChangeImageCache(ImageCacheUsage? cache)
    {
        var held = ImageCacheSru();
        ImageCache = cache;
        return ImageCacheSru() != held;
    }

    /// <summary>The node's GPUs: as its agent reported them, else as registered.</summary>
    public ImmutableArray<GpuDevice> EffectiveGpus() =>
        Gpus is { } reported ? [.. reported] : Registration?.Gpus is { IsDefault: false } registered ? registered : [];

    /// <summary>Where the node stands: the registration's place, with the agent's coordinates when it has some.</summary>
    public Location EffectiveLocation()
    {
        var registered = Registration!.Location;
        return Latitude is { } lat && Longitude is { } lon ? registered with { Latitude = lat, Longitude = lon } : registered;
    }

    /// <summary>Takes the GPUs and coordinates an agent reported (null: it said nothing); true when they changed.</summary>
    public bool ChangeDevices(IReadOnlyCollection<GpuDevice>? gpus, double? latitude, double? longitude)
    {
        var changed = false;
        if (gpus is not null && (Gpus is null || !gpus.SequenceEqual(Gpus)))
        {
            Gpus = [.. gpus];
            changed = true;
        }

        if (latitude is { } lat && longitude is { } lon && (lat != Latitude || lon != Longitude))
        {
            (Latitude, Longitude) = (lat, lon);
            changed = true;
        }

        return changed;
    }

    /// <summary>
    /// The allocation ledger over this state (registered: its sellable capacity, the SSD held for the image cache and
    /// its GPUs; else nothing to give).
    /// </summary>
    public NodeCapacity Ledger()
    {
        var ledger = NodeCapacity.Over(Registration is null ? Capacity.Zero : Sellable(), CpuOvercommit, Allocations, ImageCacheSru());
        ledger.Gpus = EffectiveGpus();
        return ledger;
    }

    /// <summary>
    /// Takes what a heartbeat reports of the node (features, address, agent release, image cache); true when that
    /// changed. GPUs and coordinates are the marketplace's (<see cref="ChangeDevices"/>).
    /// </summary>
    public bool ChangeReported(Heartbeat heartbeat) =>
        ChangeFeatures(heartbeat.Features, heartbeat.Address, heartbeat.AgentVersion) | ChangeImageCache(heartbeat.ImageCache);

    /// <summary>Down or draining: its reservations are moved away (an evacuation may be resumed).</summary>
    public bool IsEvacuating() => Status == NodeStatus.Down || Draining;

    /// <summary>
    /// Where a resumed evacuation stops the meters: a down node's last heartbeat (kept with the down status, so also
    /// after a silo loss); null for a drain, whose moves are made before the node lets go.
    /// </summary>
    public DateTimeOffset? EvacuationHeartbeat(DateTimeOffset? lastHeartbeat) =>
        Status == NodeStatus.Down ? LastHeartbeatAtDown ?? lastHeartbeat ?? StatusChangedAt : null;

    /// <summary>Up, not draining and past the rejoin delay: the node takes new placements.</summary>
    public bool IsSchedulable(DateTimeOffset now) =>
        Status == NodeStatus.Up && !Draining && (RejoinAt is not { } rejoin || now >= rejoin);

    /// <summary>A heartbeat's answer: status, what to run at <paramref name="version"/>, and the timing agents follow.</summary>
    public HeartbeatResponse Answer(ImmutableArray<WorkloadAssignment> desired, GridHealthOptions health, long version) =>
        new(VisibleStatus(), Draining, desired)
        {
            HeartbeatIntervalMs = (long)health.HeartbeatInterval.TotalMilliseconds,
            HeartbeatTimeoutMs = (long)health.HeartbeatTimeout.TotalMilliseconds,
            DesiredVersion = version,
        };

    /// <summary>What clients see: a draining node that is up shows as <c>draining</c>.</summary>
    public NodeStatus VisibleStatus() => Draining && Status == NodeStatus.Up ? NodeStatus.Draining : Status;

    /// <summary>
    /// Sets the status; a node that was ever down comes back up only after <paramref name="rejoinAfter"/> (flap
    /// hysteresis). True when that delay started.
    /// </summary>
    public bool ChangeStatus(NodeStatus status, DateTimeOffset now, TimeSpan rejoinAfter)
    {
        Status = status;
        StatusChangedAt = now;
        if (status == NodeStatus.Down)
        {
            HasBeenDown = true;
        }
        else if (status == NodeStatus.Up && HasBeenDown)
        {
            RejoinAt = now + rejoinAfter;
            return true;
        }

        return false;
    }

    /// <summary>The moves off this node (registered, holding allocations): every reservation it holds; null when none.</summary>
    public EvacuationBatch? Evacuation(long nodeId, bool makeBeforeBreak, bool resumed, DateTimeOffset? lastHeartbeat) =>
        Registration is not { } registration || Allocations.Count == 0
            ? null
            : new EvacuationBatch(
                nodeId,
                registration.FarmId,
                registration.Location.Country,
                [.. Allocations.Keys],
                makeBeforeBreak,
                makeBeforeBreak ? DrainMaxParallel : 0,
                resumed,
                lastHeartbeat);

    /// <summary>The owner's view of the node (registered), with the soft state of its activation.</summary>
    public NodeInfo Info(long nodeId, NodeCapacity held, DateTimeOffset? lastHeartbeat, long uptime, int recentFailures)
    {
        var registration = Registration!;
        var used = held.Used();
        return new NodeInfo(
            nodeId,
            registration.FarmId,
            registration.TwinId,
            VisibleStatus(),
            Draining,
            EffectiveLocation(),
            registration.Certification,
            registration.Resources with { Gpu = held.Total.Gpu },
            used,
            CapacityMath.Free(Sellable() with { Gpu = held.Total.Gpu }, used, CpuOvercommit),
            [.. held.Allocations.OrderBy(a => a.ReservationId)],
            lastHeartbeat,
            uptime,
            CreatedAt,
            RejoinAt)
        {
            Features = [.. Features],
            Address = Address,
            ImageCache = ImageCache,
            AgentVersion = AgentVersion,
            RentedBy = RentedBy,
            RentContractId = RentContractId,
            Gpus = held.AnnotatedGpus(),
            Quarantined = Quarantined,
            RecentFailures = recentFailures,
        };
    }

    /// <summary>
    /// Takes what an agent's heartbeat says the node can run, where it is reached and which release the agent runs;
    /// true when that changed (then the state is written and the summary published, so placement filters on it). An
    /// older agent says nothing: what is known stays.
    /// </summary>
    public bool ChangeFeatures(IReadOnlyCollection<string>? features, string? address, string? agentVersion)
    {
        var newFeatures = features is null ? Features : [.. features.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        var newAddress = address ?? Address;
        var newAgentVersion = agentVersion ?? AgentVersion;
        if (newFeatures.AsSpan().SequenceEqual(Features) && newAddress == Address && newAgentVersion == AgentVersion)
        {
            return false;
        }

        (Features, Address, AgentVersion) = (newFeatures, newAddress, newAgentVersion);
        return true;
    }
}
