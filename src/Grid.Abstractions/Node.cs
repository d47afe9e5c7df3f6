using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Grid;

public enum NodeStatus
{
    Down,
    Up,
    Standby,

    /// <summary>Up, but under maintenance: takes no new placements and its reservations are moved away.</summary>
    Draining,
}

public enum NodeCertification
{
    Diy,
    Certified,
}

/// <summary>Where a node stands; coordinates (degrees) when known, for <c>constraints.near</c>.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.location")]
public sealed record Location([property: Id(0)] string Country, [property: Id(1)] string City)
{
    /// <summary>Latitude in degrees (-90..90); null when not known.</summary>
    [Id(2), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Latitude { get; init; }

    /// <summary>Longitude in degrees (-180..180); null when not known.</summary>
    [Id(3), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Longitude { get; init; }
}

[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.node-registration")]
public sealed record NodeRegistration(
    [property: Id(0)] long FarmId,
    [property: Id(1)] long TwinId,
    [property: Id(2)] Capacity Resources,
    [property: Id(3)] Location Location,
    [property: Id(4)] NodeCertification Certification,
    [property: Id(5)] string NodeKeyHash,
    [property: Id(6)] string? PublicKey = null)
{
    /// <summary>The GPUs the farmer declared at registration (an agent's report replaces them).</summary>
    public ImmutableArray<GpuDevice> Gpus { get => _gpus.IsDefault ? [] : _gpus; init => _gpus = value; }

    // Default (not empty) when the sender's release had no such field: Orleans makes records without their initializers.
    [Id(7)] private readonly ImmutableArray<GpuDevice> _gpus;

    /// <summary>Value equality with the GPU list by content (a retried registration carries a new array).</summary>
    public bool Equals(NodeRegistration? other) =>
        other is not null
        && FarmId == other.FarmId && TwinId == other.TwinId && Resources == other.Resources && Location == other.Location
        && Certification == other.Certification && NodeKeyHash == other.NodeKeyHash && PublicKey == other.PublicKey
        && Gpus.AsSpan().SequenceEqual(other.Gpus.AsSpan());

    public override int GetHashCode() => HashCode.Combine(FarmId, TwinId, Resources, Location, NodeKeyHash);
}

/// <summary>What a node holds for one reservation at one placement epoch.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.allocation")]
public sealed record Allocation(
    [property: Id(0)] long ReservationId,
    [property: Id(1)] long Epoch,
    [property: Id(2)] long TwinId,
    [property: Id(3)] Capacity Resources,
    [property: Id(4)] ImmutableArray<FarmIp> PublicIps,
    [property: Id(5)] string? AntiAffinityGroup,
    [property: Id(6)] ImmutableArray<WorkloadAssignment> Workloads,
    [property: Id(7)] DateTimeOffset AllocatedAt)
{
    /// <summary>The reservation's priority (preemption compares it).</summary>
    public int Priority { get => _priority ?? ReservationPriority.Default; init => _priority = value; }

    // Null when the sender's release had no such field: Orleans makes a record without running its initializers, so a
    // plain int would read 0 there (the lowest priority, preemptible by anything) during a rolling upgrade.
    [Id(8)] private readonly int? _priority;

    /// <summary>True for spot capacity (preemptible by any reservation that is not spot).</summary>
    [Id(9)] public bool Spot { get; init; }

    /// <summary>What the placement costs per hour: preemption prefers the cheapest victims.</summary>
    [Id(10)] public long PricePerHour { get; init; }

    /// <summary>The ids of the node's GPUs this allocation holds (one reservation per GPU).</summary>
    public ImmutableArray<string> GpuIds { get => _gpuIds.IsDefault ? [] : _gpuIds; init => _gpuIds = value; }

    // Default (not empty) when the sender's release had no such field: Orleans makes records without their initializers.
    [Id(11)] private readonly ImmutableArray<string> _gpuIds;
}

/// <summary>A request to a node grain to hold capacity for a reservation at an epoch.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.allocation-request")]
public sealed record AllocationRequest(
    [property: Id(0)] long ReservationId,
    [property: Id(1)] long Epoch,
    [property: Id(2)] long TwinId,
    [property: Id(3)] Capacity Resources,
    [property: Id(4)] string? AntiAffinityGroup,
    [property: Id(5)] ImmutableArray<WorkloadAssignment> Workloads)
{
    /// <inheritdoc cref="Allocation.Priority"/>
    public int Priority { get => _priority ?? ReservationPriority.Default; init => _priority = value; }

    // Null when the sender's release had no such field: Orleans makes a record without running its initializers, so a
    // plain int would read 0 there (the lowest priority, preemptible by anything) during a rolling upgrade.
    [Id(6)] private readonly int? _priority;

    /// <inheritdoc cref="Allocation.Spot"/>
    [Id(7)] public bool Spot { get; init; }

    /// <inheritdoc cref="Allocation.PricePerHour"/>
    [Id(8)] public long PricePerHour { get; init; }

    /// <summary>GPU models the reservation accepts (<see cref="GpuDevice.Matches"/>); empty: any GPU.</summary>
    public ImmutableArray<string> GpuModels { get => _gpuModels.IsDefault ? [] : _gpuModels; init => _gpuModels = value; }

    // Default (not empty) when the sender's release had no such field: Orleans makes records without their initializers.
    [Id(9)] private readonly ImmutableArray<string> _gpuModels;
}

/// <summary>What a reservation holds on a node at an epoch (or older): the key of a release.</summary>
[GenerateSerializer, Immutable, Alias("grid.held-placement")]
public readonly record struct HeldPlacement(
    [property: Id(0)] long ReservationId,
    [property: Id(1)] long Epoch);

public enum AllocationOutcome
{
    Allocated,
    NodeNotAvailable,
    InsufficientCapacity,
    InsufficientIpv4,
    AntiAffinity,

    /// <summary>The node is rented by another twin: only the renter's reservations are placed on it.</summary>
    Rented,
}

[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.allocation-result")]
public sealed record AllocationResult(
    [property: Id(0)] AllocationOutcome Outcome,
    [property: Id(1)] ImmutableArray<FarmIp> PublicIps,
    [property: Id(2)] NodeSummary? Summary,
    [property: Id(3)] CapacityUnit? Shortfall = null)
{
    /// <summary>The GPUs the allocation holds.</summary>
    public ImmutableArray<string> GpuIds { get => _gpuIds.IsDefault ? [] : _gpuIds; init => _gpuIds = value; }

    // Default (not empty) when the sender's release had no such field: Orleans makes records without their initializers.
    [Id(4)] private readonly ImmutableArray<string> _gpuIds;
}

/// <summary>
/// The soft, schedulable picture of a node kept by the capacity index: enough to filter and score without
/// calling the node grain. <see cref="Version"/> grows with every change so stale copies can be discarded.
/// A node that came back from <c>down</c> takes no new placements before <see cref="RejoinAt"/> (flap hysteresis).
/// <see cref="CreatedAt"/>, <see cref="StatusChangedAt"/> and <see cref="BootedAt"/> (last heartbeat minus the
/// uptime it reported, as of the summary) serve the grid-proxy-compatible reads without a grain call per node;
/// <see cref="Workloads"/> counts the workloads the node is told to run (its allocations' workloads).
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.node-summary")]
public sealed record NodeSummary(
    [property: Id(0)] long NodeId,
    [property: Id(1)] long FarmId,
    [property: Id(2)] long TwinId,
    [property: Id(3)] NodeStatus Status,
    [property: Id(4)] bool Draining,
    [property: Id(5)] DateTimeOffset? RejoinAt,
    [property: Id(6)] Capacity Total,
    [property: Id(7)] Capacity Free,
    [property: Id(8)] Location Location,
    [property: Id(9)] NodeCertification Certification,
    [property: Id(10)] ImmutableArray<string> AntiAffinityKeys,
    [property: Id(11)] long Version,
    [property: Id(12)] Capacity Used,
    [property: Id(13)] DateTimeOffset CreatedAt = default,
    [property: Id(14)] DateTimeOffset? StatusChangedAt = null,
    [property: Id(15)] DateTimeOffset? BootedAt = null,
    [property: Id(16)] int Allocations = 0,
    [property: Id(17)] int Workloads = 0)
{
    /// <summary>What the node can run, as its agent last reported (<see cref="NodeFeatures"/>): placement filters on it.</summary>
    [Id(18)] public ImmutableArray<string> Features { get; init; } = [];

    /// <summary>SSD bytes held for the node's image cache (<see cref="ImageCacheUsage.Cap"/>): not in <see cref="Free"/>, never sold.</summary>
    [Id(19)] public long ImageCacheSru { get; init; }

    /// <summary>The twin renting the whole node (a rent contract), or null: placement filters on it.</summary>
    [Id(20)] public long? RentedBy { get; init; }

    /// <summary>The rent contract holding the node, or null.</summary>
    [Id(21)] public long? RentContractId { get; init; }

    /// <summary>The lowest priority among its allocations (<see cref="ReservationPriority.Max"/> when none): preemption looks only where it may find room.</summary>
    public int LowestPriority { get => _lowestPriority ?? ReservationPriority.Max; init => _lowestPriority = value; }

    // Null when the sender's release had no such field: Orleans makes a record without running its initializers, so a
    // plain int would read 0 there (the lowest priority, preemptible by anything) during a rolling upgrade.
    [Id(22)] private readonly int? _lowestPriority;

    /// <summary>True when it holds spot capacity.</summary>
    [Id(23)] public bool HasSpot { get; init; }

    /// <summary>The node's GPUs, each with the reservation holding it (null: free).</summary>
    public ImmutableArray<GpuDevice> Gpus { get => _gpus.IsDefault ? [] : _gpus; init => _gpus = value; }

    // Default (not empty) when the sender's release had no such field: Orleans makes records without their initializers.
    [Id(24)] private readonly ImmutableArray<GpuDevice> _gpus;

    /// <summary>Quarantined (its workloads kept failing): no new placements, moves avoid it.</summary>
    [Id(25)] public bool Quarantined { get; init; }

    /// <summary>Failures counted against the node within the quarantine window: placement ranks it lower.</summary>
    [Id(26)] public int RecentFailures { get; init; }
}

/// <summary>The owner's view of a node.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.node-info")]
public sealed record NodeInfo(
    [property: Id(0)] long NodeId,
    [property: Id(1)] long FarmId,
    [property: Id(2)] long TwinId,
    [property: Id(3)] NodeStatus Status,
    [property: Id(4)] bool Draining,
    [property: Id(5)] Location Location,
    [property: Id(6)] NodeCertification Certification,
    [property: Id(7)] Capacity Total,
    [property: Id(8)] Capacity Used,
    [property: Id(9)] Capacity Free,
    [property: Id(10)] ImmutableArray<Allocation> Allocations,
    [property: Id(11)] DateTimeOffset? LastHeartbeat,
    [property: Id(12)] long Uptime,
    [property: Id(13)] DateTimeOffset CreatedAt,
    [property: Id(14)] DateTimeOffset? RejoinAt)
{
    /// <summary>What the node can run, as its agent last reported (<see cref="NodeFeatures"/>).</summary>
    [Id(15)] public ImmutableArray<string> Features { get; init; } = [];

    /// <summary>The address its published ports are reached at, as its agent last reported.</summary>
    [Id(16)] public string? Address { get; init; }

    /// <summary>
    /// Its image cache as its agent last reported (null on nodes without containers): its cap is held out of
    /// <see cref="Total"/>'s <c>sru</c>, so <see cref="Free"/> is what is left after the reservations and the cache.
    /// </summary>
    [Id(17), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImageCacheUsage? ImageCache { get; init; }
    /// <summary>The release its agent last reported running (e.g. <c>0.3.0</c>); null until an agent of 0.3.0 or later beats.</summary>
    [Id(18)] public string? AgentVersion { get; init; }

    /// <summary>The twin renting the whole node (a rent contract), or null (left out of JSON).</summary>
    [Id(19), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? RentedBy { get; init; }

    /// <summary>The rent contract holding the node, or null (left out of JSON).</summary>
    [Id(20), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? RentContractId { get; init; }

    // The GPU and quarantine fields are written first in JSON: the node's answer still ends with its
    // features, address and agent version, as it did.

    /// <summary>The node's GPUs, each with the reservation holding it (null: free).</summary>
    [JsonPropertyOrder(-1)]
    public ImmutableArray<GpuDevice> Gpus { get => _gpus.IsDefault ? [] : _gpus; init => _gpus = value; }

    // Default (not empty) when the sender's release had no such field: Orleans makes records without their initializers.
    [Id(21)] private readonly ImmutableArray<GpuDevice> _gpus;

    /// <summary>Quarantined (its workloads kept failing): no new placements until the farmer clears it.</summary>
    [Id(22), JsonPropertyOrder(-1)] public bool Quarantined { get; init; }

    /// <summary>Failures counted against the node within the quarantine window.</summary>
    [Id(23), JsonPropertyOrder(-1)] public int RecentFailures { get; init; }
}
