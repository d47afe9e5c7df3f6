namespace Grid.Agent;

/// <summary>Body of <c>POST /api/v1/twins</c>.</summary>
public sealed record CreateTwinRequest(string Name);

/// <summary>Answer of <c>POST /api/v1/twins</c>: the api key is shown only once.</summary>
public sealed record TwinCreated(long TwinId, string ApiKey);

/// <summary>Body of <c>POST /api/v1/keys</c>: roles default to all of the caller's.</summary>
public sealed record CreateKeyRequest(string Name, IReadOnlyList<string>? Roles = null);

/// <summary>Body of <c>POST /api/v1/farms</c>.</summary>
public sealed record CreateFarmRequest(
    string Name,
    FarmCertification? Certification = null,
    IReadOnlyList<PublicIp>? PublicIps = null,
    double? CpuOvercommit = null);

/// <summary>Body of <c>POST /api/v1/nodes</c>.</summary>
public sealed record RegisterNodeRequest(
    long FarmId,
    Capacity Resources,
    Location Location,
    NodeCertification? Certification = null,
    string? PublicKey = null);

/// <summary>Answer of <c>POST /api/v1/nodes</c> (other fields of the answer are ignored).</summary>
public sealed record NodeRegistered(long NodeId, string NodeKey);

/// <summary>Body of <c>POST /api/v1/nodes/{id}/drain</c>.</summary>
public sealed record DrainRequest(int? MaxParallel);

/// <summary>Placement constraints of <see cref="CreateReservationRequest"/>; null fields do not constrain.</summary>
public sealed record ReservationConstraints(
    IReadOnlyList<long>? FarmIds = null,
    string? Country = null,
    bool? Certified = null,
    long? NodeId = null,
    string? AntiAffinityGroup = null,
    long? MaxPricePerHour = null);

/// <summary>Body of <c>POST /api/v1/reservations</c>.</summary>
public sealed record CreateReservationRequest(
    Capacity Resources,
    ReservationConstraints? Constraints = null,
    PlacementStrategy? Strategy = null);

/// <summary>Body of a deposit or withdrawal (minor units, 10^7 per currency unit).</summary>
public sealed record AmountRequest(long Amount);

/// <summary>Body of <c>POST /api/v1/reservations/{id}/workloads</c>.</summary>
public sealed record DeployWorkloadRequest(
    string Name,
    WorkloadType Type,
    Capacity? Resources = null,
    ProcessSpec? Process = null);
