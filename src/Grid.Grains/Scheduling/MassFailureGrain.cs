using System.Collections.Immutable;
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
public sealed partial class MassFailureGrain(
    CapacityView view,
    GridClock clock,
    IOptions<GridHealthOptions> options,
    ILogger<MassFailureGrain> logger) : Grain, IMassFailureGrain
{
    private readonly Dictionary<string, Window> _windows = [];
    private (DateTimeOffset At, Dictionary<string, int> Counts) _totals = (DateTimeOffset.MinValue, []);

    public static string[] Keys(long farmId, string country) => ["farm:" + farmId, "country:" + country.ToUpperInvariant()];

    public Task<ImmutableArray<string>> RecordDownAsync(long farmId, string country)
    {
        var now = clock.UtcNow;
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
                LogEngaged(logger, key, window.Downs.Count, Total(key, now));
            }
        }

        return GetEngagedAsync();
    }

    public Task<ImmutableArray<string>> GetEngagedAsync()
    {
        var now = clock.UtcNow;
        return Task.FromResult(_windows.Where(w => IsEngaged(w.Key, w.Value, now)).Select(w => w.Key).ToImmutableArray());
    }

    public Task<TimeSpan> TakeMoveSlotAsync(string key)
    {
        var now = clock.UtcNow;
        if (!_windows.TryGetValue(key, out var window) || !IsEngaged(key, window, now))
        {
            return Task.FromResult(TimeSpan.Zero);
        }

        var next = window.NextMoveAt > now ? window.NextMoveAt : now;
        window.NextMoveAt = next + TimeSpan.FromSeconds(1 / Math.Max(options.Value.MassFailureMovesPerSecond, 0.001));
        return Task.FromResult(next - now);
    }

    private bool IsEngaged(string key, Window window, DateTimeOffset now)
    {
        while (window.Downs.TryPeek(out var at) && now - at > options.Value.MassFailureWindow)
        {
            window.Downs.Dequeue();
        }

        var total = Total(key, now);
        var engaged = options.Value.MassFailureShare < 1 && total >= 2 && window.Downs.Count > options.Value.MassFailureShare * total;
        if (!engaged)
        {
            window.Announced = false;
        }

        return engaged;
    }

    private int Total(string key, DateTimeOffset now)
    {
        // Counting walks every node of the view: at most once a second, not once per move.
        if (now - _totals.At > TimeSpan.FromSeconds(1) || now < _totals.At)
        {
            var counts = new Dictionary<string, int>();
            foreach (var node in view.Nodes)
            {
                foreach (var k in Keys(node.FarmId, node.Location.Country))
                {
                    counts[k] = counts.GetValueOrDefault(k) + 1;
                }
            }

            _totals = (now, counts);
        }

        return _totals.Counts.GetValueOrDefault(key);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mass-failure brake engaged for {Key}: {Downs} of {Total} nodes went down within the window; moves out of it are rate limited")]
    private static partial void LogEngaged(ILogger logger, string key, int downs, int total);

    private sealed class Window
    {
        public Queue<DateTimeOffset> Downs { get; } = new();
        public DateTimeOffset NextMoveAt { get; set; }
        public bool Announced { get; set; }
    }
}
