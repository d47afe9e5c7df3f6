using System.Collections.Immutable;

namespace Grid;

public enum WorkloadType
{
    Process,
    Vm,
    Zdb,
    Gateway,
}

public enum WorkloadState
{
    Pending,
    Deploying,
    Running,
    Failed,
    Stopped,
    Deleted,
}

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
    [property: Id(3)] ProcessSpec? Process);

/// <summary>A workload a node should run, at the placement epoch of its reservation.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.workload-assignment")]
public sealed record WorkloadAssignment(
    [property: Id(0)] long WorkloadId,
    [property: Id(1)] long ReservationId,
    [property: Id(2)] long Epoch,
    [property: Id(3)] WorkloadSpec Spec);

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
    [property: Id(10)] DateTimeOffset UpdatedAt);

/// <summary>What a node agent reports about one workload it runs.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.workload-report")]
public sealed record WorkloadReport(
    [property: Id(0)] long WorkloadId,
    [property: Id(1)] long Epoch,
    [property: Id(2)] WorkloadState State,
    [property: Id(3)] int Restarts = 0,
    [property: Id(4)] string? Message = null);

[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.heartbeat")]
public sealed record Heartbeat(
    [property: Id(0)] long Uptime,
    [property: Id(1)] ImmutableArray<WorkloadReport> Workloads);

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
}

/// <summary>The long-poll's answer: the workloads a node should run, at a version that changes with them.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.desired-workloads")]
public sealed record DesiredWorkloads(
    [property: Id(0)] long Version,
    [property: Id(1)] ImmutableArray<WorkloadAssignment> Desired);
