using System.Collections.Immutable;

namespace Grid.Client;

/// <summary>Node counts by status.</summary>
public sealed record StatusCounts(int Total, int Up, int Down, int Standby, int Draining);

/// <summary>A node as anyone may see it.</summary>
public sealed record PublicNode(
    long NodeId, long FarmId, string Country, string City, string Status, bool Draining, Capacity Total, Capacity Used);

/// <summary>A farm as anyone may see it.</summary>
public sealed record PublicFarm(
    long FarmId, string Name, FarmCertification Certification, ImmutableArray<string> Countries, StatusCounts Nodes, int Ipv4Total, int Ipv4Used);

/// <summary>The nodes of one country.</summary>
public sealed record PublicCountry(string Country, StatusCounts Nodes);

/// <summary>The public picture of the grid: what anyone may see without an API key (no twins, no reservations).</summary>
public sealed record GridOverview(
    DateTimeOffset At,
    StatusCounts Nodes,
    Capacity CapacityTotal,
    Capacity CapacityUsed,
    ImmutableArray<PublicFarm> Farms,
    ImmutableArray<PublicCountry> Countries,
    ImmutableArray<PublicNode> NodeList,
    bool NodeListTruncated);
