using System.Collections.Immutable;
using Grid.Grains;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Index;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.index-shard")]
public sealed class IndexShardState
{
    /// <summary>The only durable part of a shard: which nodes belong to it, to rebuild the rest.</summary>
    [Id(0)] public HashSet<long> NodeIds { get; set; } = [];
}

/// <summary>
/// One shard of the capacity index and health watch. Summaries and heartbeat times are soft: on activation
/// they are rebuilt from the node grains, and every node gets a grace period before it can be declared down,
/// so a silo or controller restart never causes mass false failures. Detection costs O(1) per heartbeat and
/// one scan per shard per tick.
/// </summary>
public sealed partial class CapacityIndexGrain(
    [PersistentState("index", GridStorage.Name)] IPersistentState<IndexShardState> state,
    GridClock clock,
    IOptions<GridHealthOptions> health,
    ILogger<CapacityIndexGrain> logger) : Grain, ICapacityIndexGrain
{
    private const int RebuildChunk = 256;
    private readonly Dictionary<long, Entry> _entries = [];
    private readonly long _epoch = Random.Shared.NextInt64(1, long.MaxValue);
    private long _version;
    private DateTimeOffset? _lastFullScan;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var graceUntil = clock.UtcNow + health.Value.EffectiveStartupGrace;
        foreach (var nodeId in state.State.NodeIds)
        {
            _entries[nodeId] = new Entry { LastBeat = graceUntil - health.Value.HeartbeatTimeout };
        }

        this.RegisterGrainTimer(RebuildAsync, TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        this.RegisterGrainTimer(ScanAsync, health.Value.ScanInterval, health.Value.ScanInterval);
        return Task.CompletedTask;
    }

    public async Task AddNodeAsync(NodeSummary summary)
    {
        if (state.State.NodeIds.Add(summary.NodeId))
        {
            try
            {
                await state.WriteStateAsync();
            }
            catch
            {
                // Not durable, so not known: a retried registration writes it again.
                state.State.NodeIds.Remove(summary.NodeId);
                throw;
            }
        }

        Apply(summary);
    }

    public Task UpdateAsync(NodeSummary summary)
    {
        Apply(summary);
        return Task.CompletedTask;
    }

    public Task<IndexChanges> GetChangesAsync(long epoch, long sinceVersion)
    {
        var since = epoch == _epoch ? sinceVersion : -1;
        var changed = _entries.Values
            .Where(e => e.Summary is not null && e.ShardVersion > since)
            .Select(e => e.Summary!)
            .ToImmutableArray();
        return Task.FromResult(new IndexChanges(changed, _version, _epoch));
    }

    public Task BeatAsync(long nodeId, DateTimeOffset at, long summaryVersion)
    {
        if (!_entries.TryGetValue(nodeId, out var entry))
        {
            return Task.CompletedTask;
        }

        if (at > entry.LastBeat)
        {
            entry.LastBeat = at;
        }

        if (entry.Summary is { } summary && summary.Version < summaryVersion && !entry.Fetching)
        {
            // The node sent a newer summary that never arrived (its one-way update was lost, e.g. while silos
            // joined): without this the shard and every silo's view would keep, say, an up node as down for good.
            entry.Fetching = true;
            _ = FetchSummaryAsync(nodeId, entry);
        }

        return Task.CompletedTask;
    }

    private async Task FetchSummaryAsync(long nodeId, Entry entry)
    {
        try
        {
            if (await GrainFactory.GetGrain<INodeGrain>(nodeId).GetSummaryAsync() is { } summary)
            {
                LogSummaryFetched(logger, nodeId, summary.Status);
                Apply(summary);
            }
        }
        catch (Exception exception)
        {
            // Asked again at the node's next heartbeat.
            LogSummaryFetchFailed(logger, nodeId, exception.GetType().Name);
        }
        finally
        {
            entry.Fetching = false;
        }
    }

    public Task ResetAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public Task<ImmutableArray<NodeGroupCount>> CountNodesAsync()
    {
        var now = clock.UtcNow;
        return Task.FromResult(_entries.Values
            .Where(e => e.Summary is not null)
            .GroupBy(e => (e.Summary!.FarmId, e.Summary.Location.Country))
            .Select(g => new NodeGroupCount(g.Key.FarmId, g.Key.Country, g.Count(), g.Count(e => LooksLost(e, now))))
            .ToImmutableArray());
    }

    /// <summary>
    /// Silent while still up (its timeout comes soon: nodes going dark together time out a moment apart), or
    /// declared down within the brake's window. Each node counts once, whichever of the two its summary shows.
    /// </summary>
    private bool LooksLost(Entry entry, DateTimeOffset now) => entry.Summary!.Status switch
    {
        NodeStatus.Up => entry.LastBeat < now - health.Value.EffectiveSuspectAfter,
        NodeStatus.Down => entry.Summary.StatusChangedAt is { } at && now - at <= health.Value.MassFailureWindow,
        _ => false,
    };

    public Task<int> PingAsync() => Task.FromResult(_entries.Count);

    public Task<DateTimeOffset?> GetLastFullScanAsync() => Task.FromResult(_lastFullScan);

    private void Apply(NodeSummary summary)
    {
        if (!_entries.TryGetValue(summary.NodeId, out var entry))
        {
            entry = new Entry { LastBeat = clock.UtcNow };
            _entries[summary.NodeId] = entry;
        }

        if (entry.Summary is null || entry.Summary.Version < summary.Version)
        {
            entry.Summary = summary;
            entry.ShardVersion = ++_version;
        }
    }

    private async Task RebuildAsync(CancellationToken cancellationToken)
    {
        var missing = _entries.Where(e => e.Value.Summary is null).Select(e => e.Key).ToList();
        foreach (var chunk in missing.Chunk(RebuildChunk))
        {
            var summaries = await Task.WhenAll(chunk.Select(id => GrainFactory.GetGrain<INodeGrain>(id).GetSummaryAsync()));
            foreach (var summary in summaries.OfType<NodeSummary>())
            {
                Apply(summary);
            }
        }

        LogRebuilt(logger, this.GetPrimaryKeyLong(), _entries.Count);
    }

    private Task ScanAsync(CancellationToken cancellationToken)
    {
        var now = clock.UtcNow;
        var deadline = now - health.Value.HeartbeatTimeout;
        foreach (var (nodeId, entry) in _entries)
        {
            if (entry.Summary is not { } summary || entry.NextCall > now)
            {
                continue;
            }

            if (summary.Status == NodeStatus.Up && entry.LastBeat < deadline)
            {
                // Asked again while the summary says up: the node grain (or its silo) may have died before its
                // down status reached this shard. It re-checks against its own last heartbeat before acting.
                entry.NextCall = now + health.Value.EvacuationRecheck;
                if (entry.ReportedDownAt != entry.LastBeat)
                {
                    entry.ReportedDownAt = entry.LastBeat;
                    LogSilent(logger, nodeId, entry.LastBeat);
                }

                GrainFactory.GetGrain<INodeGrain>(nodeId).MarkDownAsync(entry.LastBeat).Ignore();
            }
            else if ((summary.Status == NodeStatus.Down || summary.Draining) && summary.Used != Capacity.Zero)
            {
                // Evacuation is durable because it is asked for again until the node holds nothing: the moves
                // run in the node grain's silo, and a silo lost mid-way (or a failed move) leaves some behind.
                entry.NextCall = now + health.Value.EvacuationRecheck;
                GrainFactory.GetGrain<INodeGrain>(nodeId).ResumeEvacuationAsync().Ignore();
            }
        }

        if (_entries.Values.All(e => e.Summary is not null))
        {
            _lastFullScan = now;
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId}'s summary ({Status}) had not reached its index shard: fetched it")]
    private static partial void LogSummaryFetched(ILogger logger, long nodeId, NodeStatus status);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Fetching node {NodeId}'s missed summary failed: {Error}")]
    private static partial void LogSummaryFetchFailed(ILogger logger, long nodeId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index shard {Shard} rebuilt: {Count} nodes")]
    private static partial void LogRebuilt(ILogger logger, long shard, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} silent since {LastBeat:O}: declaring it down")]
    private static partial void LogSilent(ILogger logger, long nodeId, DateTimeOffset lastBeat);

    private sealed class Entry
    {
        public NodeSummary? Summary { get; set; }
        public long ShardVersion { get; set; }
        public DateTimeOffset LastBeat { get; set; }
        public DateTimeOffset? ReportedDownAt { get; set; }

        /// <summary>When the shard may next ask the node grain to act (mark down, move what it holds).</summary>
        public DateTimeOffset NextCall { get; set; }

        /// <summary>A missed summary is being fetched from the node grain.</summary>
        public bool Fetching { get; set; }
    }
}
