using Grid.Grains;
using Grid.Scheduling;

namespace Grid.Nodes;

/// <summary>
/// A node's summaries and where they go: this silo's capacity view at once, and the node's capacity index shard
/// (the read model) without waiting. Every summary takes a new version, above every version an earlier incarnation
/// can have handed out (the incarnation in the high bits, then a counter), so stale copies are discarded wherever
/// the node is hosted next.
/// </summary>
/// <param name="nodeId">The node.</param>
/// <param name="view">This silo's capacity view.</param>
/// <param name="shard">The node's index shard (resolved once: GetGrain takes a lock inside Orleans and showed up in placement profiles).</param>
public sealed class NodeSummaryPublisher(long nodeId, CapacityView view, ICapacityIndexGrain shard)
{
    private const int IncarnationShift = 32;

    private long _version;

    /// <summary>The version of the last summary handed to the shard; each heartbeat tells it, so a lost update is noticed.</summary>
    public long PublishedVersion { get; private set; }

    /// <summary>Starts the versions of an activation; answers the first one.</summary>
    public long StartIncarnation(long incarnation) => _version = incarnation << IncarnationShift;

    /// <summary>
    /// Publishes <paramref name="summary"/>'s value once after <paramref name="due"/> (in <paramref name="grain"/>'s turn):
    /// when a node's rejoin delay ends the index must learn it takes placements again.
    /// </summary>
    public void PublishAfter(IGrainBase grain, TimeSpan due, Func<NodeSummary> summary) =>
        grain.RegisterGrainTimer(_ =>
        {
            Publish(summary());
            return Task.CompletedTask;
        }, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { Interleave = true });

    /// <summary>The node as the index sees it, at a new version.</summary>
    public NodeSummary Next(NodeState node, NodeCapacity capacity, DateTimeOffset? bootedAt, int recentFailures = 0)
    {
        var registration = node.Registration!;
        var used = capacity.Used();
        var (lowestPriority, hasSpot) = capacity.Preemptible();
        return new NodeSummary(
            nodeId,
            registration.FarmId,
            registration.TwinId,
            node.Status,
            node.Draining,
            node.RejoinAt,
            registration.Resources with { Gpu = capacity.Total.Gpu },
            CapacityMath.Free(node.Sellable() with { Gpu = capacity.Total.Gpu }, used, node.CpuOvercommit),
            node.EffectiveLocation(),
            registration.Certification,
            capacity.AntiAffinityKeys(),
            ++_version,
            used,
            node.CreatedAt,
            node.StatusChangedAt,
            bootedAt,
            capacity.Count,
            capacity.WorkloadCount())
        {
            Features = [.. node.Features],
            ImageCacheSru = node.ImageCacheSru(),
            RentedBy = node.RentedBy,
            RentContractId = node.RentContractId,
            LowestPriority = lowestPriority,
            HasSpot = hasSpot,
            Gpus = capacity.AnnotatedGpus(),
            Quarantined = node.Quarantined,
            RecentFailures = recentFailures,
        };
    }

    /// <summary>
    /// Publishes without waiting (it would serialize every allocation behind the shard); a lost update is fetched
    /// again by the shard at the node's next heartbeat, which carries this version.
    /// </summary>
    public void Publish(NodeSummary summary)
    {
        view.Update(summary);
        PublishedVersion = summary.Version;
        shard.UpdateAsync(summary).Ignore();
    }

    /// <summary><see cref="Publish"/>, answering the summary published.</summary>
    public NodeSummary Published(NodeSummary summary)
    {
        Publish(summary);
        return summary;
    }

    /// <summary>Lists a newly registered node, waiting for the shard to have it.</summary>
    public async Task AddAsync(NodeSummary summary)
    {
        view.Update(summary);
        await shard.AddNodeAsync(summary);
        PublishedVersion = summary.Version;
    }

    /// <summary>Tells the shard the node is alive, and which summary version it last published.</summary>
    public Task BeatAsync(DateTimeOffset at) => shard.BeatAsync(nodeId, at, PublishedVersion);
}
