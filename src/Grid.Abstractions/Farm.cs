using System.Collections.Immutable;

namespace Grid;

public enum FarmCertification
{
    NotCertified,
    Gold,
}

/// <summary>A public IPv4 address of a farm, with prefix length (e.g. <c>185.69.166.2/24</c>) and gateway.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.public-ip")]
public sealed record PublicIp([property: Id(0)] string Ip, [property: Id(1)] string Gateway);

[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.farm-spec")]
public sealed record FarmSpec(
    [property: Id(0)] string Name,
    [property: Id(1)] FarmCertification Certification,
    [property: Id(2)] ImmutableArray<PublicIp> PublicIps,
    [property: Id(3)] double CpuOvercommit);

/// <summary>
/// A public IP of a farm and the reservation holding it (0 when free) at a placement epoch: a reservation that
/// moves within the farm keeps its address, and releasing the old epoch does not free it.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.farm-ip")]
public sealed record FarmIp(
    [property: Id(0)] string Ip,
    [property: Id(1)] string Gateway,
    [property: Id(2)] long ReservationId,
    [property: Id(3)] long Epoch = 0,
    [property: Id(4)] DateTimeOffset? HeldSince = null);

[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.farm-info")]
public sealed record FarmInfo(
    [property: Id(0)] long FarmId,
    [property: Id(1)] long TwinId,
    [property: Id(2)] string Name,
    [property: Id(3)] FarmCertification Certification,
    [property: Id(4)] double CpuOvercommit,
    [property: Id(5)] ImmutableArray<FarmIp> PublicIps,
    [property: Id(6)] ImmutableArray<long> NodeIds,
    [property: Id(7)] DateTimeOffset CreatedAt);
