using System.Collections.Immutable;
using Grid.Grains;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Scheduling;

/// <summary>The cluster's one count of recent node losses per farm and country (key 0), and the pace of moves out of them.</summary>
[Alias("grid.IMassFailureGrain")]
public interface IMassFailureGrain : IGrainWithIntegerKey
{
    /// <summary>Counts a node's loss; answers the keys (<c>farm:F</c>, <c>country:C</c>) under the brake now.</summary>
    [Alias("RecordDown")]
    Task<ImmutableArray<string>> RecordDownAsync(long farmId, string country);

    [Alias("GetEngaged")]
    Task<ImmutableArray<string>> GetEngagedAsync();

    /// <summary>Takes the next move slot of a braked key: how long the caller waits before its move (zero when not braked).</summary>
    [Alias("TakeMoveSlot")]
    Task<TimeSpan> TakeMoveSlotAsync(string key);
}

/// <summary>
/// Cluster-wide counts for <see cref="MassFailureBrake"/>: every silo records its nodes' losses here, so the
/// brake engages at the configured share whatever the number of silos. The counts are soft (in memory): a
/// loss of this grain's silo forgets the window, which errs towards moving, not towards holding moves back.
/// </summary>
/// <remarks>
/// The share's denominator (a farm's or a country's nodes) is asked of the index shards, the one source every
/// silo's <see cref="CapacityView"/> copies. Reading the view of the silo this grain happens to run on made the
/// brake depend on that silo: a silo that has just started (where the grain lands after its silo's loss) has an
/// empty or partial copy until its replicator's first passes, and there the brake did not engage. Pinning the grain
/// would not help: no silo is permanent and every view is a lagging copy of the shards. The shards are asked at most
/// once a second, and only while some window holds losses (one small call per shard).
/// </remarks>
public sealed partial class MassFailureGrain(
    IOptions<GridIndexOptions> index,
    GridClock clock,
    IOptions<GridHealthOptions> options,
    ILogger<MassFailureGrain> logger) : Grain, IMassFailureGrain
{
    private static readonly TimeSpan TotalsMaxAge = TimeSpan.FromSeconds(1);
    private readonly Dictionary<string, Window> _windows = [];
    private (DateTimeOffset At, Dictionary<string, (int Nodes, int Lost)> Counts) _totals = (DateTimeOffset.MinValue, []);

    public static string[] Keys(long farmId, string country) => ["farm:" + farmId, "country:" + country.ToUpperInvariant()];

    public async Task<ImmutableArray<string>> RecordDownAsync(long farmId, string country)
    {
        var now = clock.UtcNow;
        await RefreshTotalsAsync(now);
        foreach (var key in Keys(farmId, country))
        {
            if (!_windows.TryGetValue(key, out var window))
            {
                _windows[key] = window = new Window();
            }

            window.Downs.Enqueue(now);
            if (IsEngaged(key, window, now) && !window.Announced)
            {
                window.Announced = true;
                var (total, lost) = _totals.Counts.GetValueOrDefault(key);
                LogEngaged(logger, key, window.Downs.Count, total, lost);
            }
        }

        return Engaged(now);
    }

    public async Task<ImmutableArray<string>> GetEngagedAsync()
    {
        var now = clock.UtcNow;
        if (_windows.Count > 0)
        {
            await RefreshTotalsAsync(now);
        }

        return Engaged(now);
    }

    public async Task<TimeSpan> TakeMoveSlotAsync(string key)
    {
        var now = clock.UtcNow;
        if (!_windows.TryGetValue(key, out var window))
        {
            return TimeSpan.Zero;
        }

        await RefreshTotalsAsync(now);
        if (!IsEngaged(key, window, now))
        {
            return TimeSpan.Zero;
        }

        var next = window.NextMoveAt > now ? window.NextMoveAt : now;
        window.NextMoveAt = next + TimeSpan.FromSeconds(1 / Math.Max(options.Value.MassFailureMovesPerSecond, 0.001));
        return next - now;
    }

    private ImmutableArray<string> Engaged(DateTimeOffset now) =>
        [.. _windows.Where(w => IsEngaged(w.Key, w.Value, now)).Select(w => w.Key)];

    private bool IsEngaged(string key, Window window, DateTimeOffset now)
    {
        while (window.Downs.TryPeek(out var at) && now - at > options.Value.MassFailureWindow)
        {
            window.Downs.Dequeue();
        }

        // A loss recorded here engages the brake once enough of the key's nodes look lost: the losses counted here, or
        // what the shards see (silent nodes still up, recent downs), whichever is more; not their sum, as a node just
        // declared down may still be silent-but-up in its shard's summary. The silent ones count so that nodes going
        // dark together are braked from the first declared down, not from the one that tips the share.
        var (total, lost) = _totals.Counts.GetValueOrDefault(key);
        var engaged = options.Value.MassFailureShare < 1 && total >= 2 && window.Downs.Count > 0
            && Math.Max(window.Downs.Count, lost) > options.Value.MassFailureShare * total;
        if (!engaged)
        {
            window.Announced = false;
        }

        return engaged;
    }

    /// <summary>Counts the nodes per key from the index shards, unless the counts are younger than a second.</summary>
    private async Task RefreshTotalsAsync(DateTimeOffset now)
    {
        if (now - _totals.At <= TotalsMaxAge && now >= _totals.At)
        {
            return;
        }

        try
        {
            var shards = await Task.WhenAll(Enumerable.Range(0, index.Value.Shards)
                .Select(shard => GrainFactory.GetGrain<ICapacityIndexGrain>(shard).CountNodesAsync()));
            var counts = new Dictionary<string, (int Nodes, int Lost)>();
            foreach (var group in shards.SelectMany(groups => groups))
            {
                foreach (var key in Keys(group.FarmId, group.Country))
                {
                    var (nodes, lost) = counts.GetValueOrDefault(key);
                    counts[key] = (nodes + group.Nodes, lost + group.Lost);
                }
            }

            _totals = (now, counts);
        }
        catch (Exception exception)
        {
            // The last counts stand (none at first: nothing is braked, which errs towards moving); asked again in a second.
            LogCountFailed(logger, exception);
            _totals = (now, _totals.Counts);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mass-failure brake engaged for {Key}: {Downs} of {Total} nodes went down within the window ({Lost} look lost: silent or down); moves out of it are rate limited")]
    private static partial void LogEngaged(ILogger logger, string key, int downs, int total, int lost);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mass-failure brake could not count the nodes of the index shards; keeping the last counts")]
    private static partial void LogCountFailed(ILogger logger, Exception exception);

    private sealed class Window
    {
        public Queue<DateTimeOffset> Downs { get; } = new();
        public DateTimeOffset NextMoveAt { get; set; }
        public bool Announced { get; set; }
    }
}
