using System.Collections.Immutable;

namespace Grid.Host.Api;

// Request bodies take nullable members so a missing field is told apart from a zero and reported by name.

public sealed record CreateTwinRequest(string? Name, string? PublicKey = null);

public sealed record TwinCreated(long TwinId, string ApiKey, string Name);

public sealed record PublicIpRequest(string? Ip, string? Gateway);

public sealed record CreateFarmRequest(
    string? Name,
    FarmCertification? Certification,
    ImmutableArray<PublicIpRequest>? PublicIps,
    double? CpuOvercommit);

public sealed record ResourcesRequest(long? Cru, long? Mru, long? Sru, long? Hru, int? Ipv4);

public sealed record LocationRequest(string? Country, string? City);

public sealed record CreateNodeRequest(
    long? FarmId,
    ResourcesRequest? Resources,
    LocationRequest? Location,
    NodeCertification? Certification,
    string? PublicKey = null);

public sealed record NodeCreated(long NodeId, string NodeKey, long FarmId, NodeStatus Status);

public sealed record DrainRequest(int? MaxParallel);

public sealed record WorkloadReportRequest(long? WorkloadId, long? Epoch, WorkloadState? State, int? Restarts, string? Message);

public sealed record HeartbeatRequest(long? Uptime, ImmutableArray<WorkloadReportRequest>? Workloads);

public sealed record ConstraintsRequest(
    ImmutableArray<long>? FarmIds,
    string? Country,
    bool? Certified,
    long? NodeId,
    string? AntiAffinityGroup,
    long? MaxPricePerHour = null);

public sealed record CreateReservationRequest(
    ResourcesRequest? Resources,
    ConstraintsRequest? Constraints,
    PlacementStrategy? Strategy);

public sealed record ProcessRequest(string? Command, ImmutableArray<string>? Args, ImmutableDictionary<string, string>? Env);

public sealed record CreateWorkloadRequest(string? Name, WorkloadType? Type, ResourcesRequest? Resources, ProcessRequest? Process);

public sealed record PriceListRequest(long? Cu, long? Su, long? Ipu);

public sealed record AmountRequest(long? Amount);

/// <summary>A page of a listing.</summary>
public sealed record Page<T>(ImmutableArray<T> Items, int PageNumber, int Size, int Total);
