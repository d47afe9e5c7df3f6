using System.Collections.Immutable;
using Grid.Telemetry;

namespace Grid.Scheduling;

/// <summary>
/// Correlated-failure brake: when more than <see cref="GridHealthOptions.MassFailureShare"/> of a farm's or a
/// country's nodes went down within the window, or look lost (silent for <see cref="GridHealthOptions.SuspectAfter"/>
/// while still up: nodes going dark together time out a moment apart), moves out of it are rate limited from the
/// first loss — a whole farm vanishing is more likely a network split than dead machines, and moving everything at
/// once would overload the rest.
/// The counts and the pace are cluster-wide (<see cref="IMassFailureGrain"/>); this silo-local part asks the
/// grain only for moves out of a braked farm or country and otherwise reads its cached answer.
/// </summary>
public sealed class MassFailureBrake(IGrainFactory grains, GridClock clock, GridMetrics metrics)
{
    private const long RefreshMs = 1000;
    private (long At, long Asked, ImmutableArray<string> Keys) _engaged = (long.MinValue / 2, 0, []);
    private readonly Lock _gate = new();
    private long _asked;

    private IMassFailureGrain Grain => grains.GetGrain<IMassFailureGrain>(0);

    /// <summary>Keys (<c>farm:F</c>, <c>country:C</c>) whose moves were rate limited at this silo's last look.</summary>
    public IReadOnlyCollection<string> Engaged => _engaged.Keys;

    /// <summary>Counts a node's loss; answers the keys under the brake right after it, which pace that node's moves.</summary>
    public async Task<ImmutableArray<string>> RecordDownAsync(long farmId, string country)
    {
        var asked = Interlocked.Increment(ref _asked);
        return Remember(asked, await Grain.RecordDownAsync(farmId, country));
    }

    /// <summary>The keys under the brake now, asked of the cluster.</summary>
    public async Task<IReadOnlyCollection<string>> GetEngagedAsync()
    {
        var asked = Interlocked.Increment(ref _asked);
        return Remember(asked, await Grain.GetEngagedAsync());
    }

    /// <summary>
    /// Waits for a move slot when the node's farm or country is under the brake: by this silo's latest answer,
    /// or by <paramref name="engagedAtLoss"/>, the answer to the node's own loss (never older than the loss).
    /// </summary>
    public async ValueTask WaitAsync(long farmId, string country, ImmutableArray<string> engagedAtLoss, CancellationToken cancellationToken)
    {
        // A cache, so it ages in real time: most moves are not braked and must not each ask the grain.
        var engaged = _engaged;
        if (Environment.TickCount64 - engaged.At > RefreshMs)
        {
            await GetEngagedAsync();
            engaged = _engaged;
        }

        foreach (var key in MassFailureGrain.Keys(farmId, country))
        {
            if (!engaged.Keys.Contains(key) && !engagedAtLoss.Contains(key))
            {
                continue;
            }

            var wait = await Grain.TakeMoveSlotAsync(key);
            if (wait > TimeSpan.Zero)
            {
                metrics.MoveDelayed();
                await Task.Delay(wait, clock.Time, cancellationToken);
            }
        }
    }

    private ImmutableArray<string> Remember(long asked, ImmutableArray<string> keys)
    {
        // Answers to concurrent questions can come back in any order: one asked earlier must not replace a newer
        // one (an old "not engaged" would let a braked farm's moves through until the next refresh).
        lock (_gate)
        {
            if (asked > _engaged.Asked)
            {
                _engaged = (Environment.TickCount64, asked, keys);
                metrics.SetBrakeEngaged(keys.Length);
            }
        }

        return keys;
    }
}
