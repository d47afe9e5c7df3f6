using System.Collections.Immutable;
using Orleans.Concurrency;

namespace Grid.Grains;

/// <summary>Changes of an index shard since a version.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.index-changes")]
public sealed record IndexChanges(
    [property: Id(0)] ImmutableArray<NodeSummary> Nodes,
    [property: Id(1)] long Version,
    [property: Id(2)] long Epoch);

/// <summary>
/// How many of a shard's nodes belong to one farm in one country, and how many of those look lost now
/// (<paramref name="Lost"/>: up by their summary but silent for <c>Grid:Health:SuspectAfter</c>, or declared
/// down within the mass-failure window), for the mass-failure brake.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.node-group-count")]
public sealed record NodeGroupCount(
    [property: Id(0)] long FarmId,
    [property: Id(1)] string Country,
    [property: Id(2)] int Nodes,
    [property: Id(3)] int Lost = 0);

/// <summary>
/// One shard of the soft capacity index and health watch: node summaries pushed by node grains, and last
/// heartbeat times scanned by one timer per shard. Only shard membership (node ids) is durable; the rest is
/// rebuilt from the node grains when the shard activates. Key: shard number.
/// </summary>
[Alias("grid.ICapacityIndexGrain")]
public interface ICapacityIndexGrain : IGrainWithIntegerKey
{
    [Alias("AddNode")]
    Task AddNodeAsync(NodeSummary summary);

    [Alias("Update")]
    [OneWay]
    Task UpdateAsync(NodeSummary summary);

    /// <summary>Summaries changed after <paramref name="sinceVersion"/> within <paramref name="epoch"/> (all if the epoch differs).</summary>
    [Alias("GetChanges")]
    Task<IndexChanges> GetChangesAsync(long epoch, long sinceVersion);

    /// <summary>
    /// A node's heartbeat, with the version of the last summary the node sent this shard: a shard holding an older
    /// one missed an update (a lost one-way call) and fetches the summary again.
    /// </summary>
    [Alias("Beat")]
    [OneWay]
    Task BeatAsync(long nodeId, DateTimeOffset at, long summaryVersion);

    /// <summary>
    /// Drops the shard's soft state; the next call re-activates it, rebuilt from the node grains with a fresh
    /// grace period — exactly what happens after a silo or controller restart.
    /// </summary>
    [Alias("Reset")]
    Task ResetAsync();

    /// <summary>The shard's nodes counted per farm and country (the mass-failure brake's denominators).</summary>
    [Alias("CountNodes")]
    Task<ImmutableArray<NodeGroupCount>> CountNodesAsync();

    [Alias("Ping")]
    Task<int> PingAsync();

    /// <summary>Grid time of this activation's last scan that knew every node's summary (null before the first).</summary>
    [Alias("LastFullScan")]
    Task<DateTimeOffset?> GetLastFullScanAsync();
}
