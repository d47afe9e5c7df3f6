using System.Collections.Concurrent;
using Grid.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Scheduling;

/// <summary>
/// Correlated-failure brake: when more than <see cref="GridHealthOptions.MassFailureShare"/> of a farm's or a
/// country's nodes went down within the window, moves out of it are rate limited — a whole farm vanishing is
/// more likely a network split than dead machines, and moving everything at once would overload the rest.
/// The brake is per silo (each silo limits the moves it drives).
/// </summary>
public sealed partial class MassFailureBrake(
    CapacityView view,
    GridClock clock,
    IOptions<GridHealthOptions> options,
    GridMetrics metrics,
    ILogger<MassFailureBrake> logger)
{
    private readonly ConcurrentDictionary<string, Window> _windows = new();
    private (long At, Dictionary<string, int> Counts) _totals = (long.MinValue / 2, []);

    /// <summary>Keys (<c>farm:F</c>, <c>country:C</c>) whose moves are rate limited now.</summary>
    public IReadOnlyCollection<string> Engaged =>
        [.. _windows.Where(w => IsEngaged(w.Key, w.Value, clock.UtcNow)).Select(w => w.Key)];

    public void RecordDown(long farmId, string country)
    {
        var now = clock.UtcNow;
        foreach (var key in Keys(farmId, country))
        {
            var window = _windows.GetOrAdd(key, _ => new Window());
            lock (window)
            {
                window.Downs.Enqueue(now);
                Trim(window, now);
            }

            if (IsEngaged(key, window, now) && !window.Announced)
            {
                window.Announced = true;
                LogEngaged(logger, key, window.Downs.Count, Total(key));
            }
        }

        metrics.SetBrakeEngaged(Engaged.Count);
    }

    /// <summary>Waits for a move token when the node's farm or country is under the brake.</summary>
    public async ValueTask WaitAsync(long farmId, string country, CancellationToken cancellationToken)
    {
        var rate = options.Value.MassFailureMovesPerSecond;
        foreach (var key in Keys(farmId, country))
        {
            if (!_windows.TryGetValue(key, out var window))
            {
                continue;
            }

            while (IsEngaged(key, window, clock.UtcNow))
            {
                TimeSpan wait;
                lock (window)
                {
                    var now = clock.UtcNow;
                    var next = window.NextMoveAt > now ? window.NextMoveAt : now;
                    window.NextMoveAt = next + TimeSpan.FromSeconds(1 / Math.Max(rate, 0.001));
                    wait = next - now;
                }

                if (wait <= TimeSpan.Zero)
                {
                    break;
                }

                metrics.MoveDelayed();
                await Task.Delay(wait, clock.Time, cancellationToken);
                break;
            }
        }
    }

    private bool IsEngaged(string key, Window window, DateTimeOffset now)
    {
        if (options.Value.MassFailureShare >= 1)
        {
            return false;
        }

        int downs;
        lock (window)
        {
            Trim(window, now);
            downs = window.Downs.Count;
        }

        var total = Total(key);
        var engaged = total >= 2 && downs > options.Value.MassFailureShare * total;
        if (!engaged)
        {
            window.Announced = false;
        }

        return engaged;
    }

    private int Total(string key)
    {
        // Counting means a walk over every node: do it at most once a second, not once per move.
        var totals = _totals;
        if (Environment.TickCount64 - totals.At > 1000)
        {
            var counts = new Dictionary<string, int>();
            foreach (var node in view.Nodes)
            {
                foreach (var k in Keys(node.FarmId, node.Location.Country))
                {
                    counts[k] = counts.GetValueOrDefault(k) + 1;
                }
            }

            _totals = totals = (Environment.TickCount64, counts);
        }

        return totals.Counts.GetValueOrDefault(key);
    }

    private void Trim(Window window, DateTimeOffset now)
    {
        while (window.Downs.TryPeek(out var at) && now - at > options.Value.MassFailureWindow)
        {
            window.Downs.Dequeue();
        }
    }

    private static string[] Keys(long farmId, string country) => ["farm:" + farmId, "country:" + country.ToUpperInvariant()];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mass-failure brake engaged for {Key}: {Downs} of {Total} nodes went down within the window; moves out of it are rate limited")]
    private static partial void LogEngaged(ILogger logger, string key, int downs, int total);

    private sealed class Window
    {
        public Queue<DateTimeOffset> Downs { get; } = new();
        public DateTimeOffset NextMoveAt { get; set; }
        public bool Announced { get; set; }
    }
}
