using System.Collections.Immutable;
using Grid.Telemetry;

namespace Grid.Scheduling;

/// <summary>
/// Correlated-failure brake: when more than <see cref="GridHealthOptions.MassFailureShare"/> of a farm's or a
/// country's nodes went down within the window, moves out of it are rate limited — a whole farm vanishing is
/// more likely a network split than dead machines, and moving everything at once would overload the rest.
/// The counts and the pace are cluster-wide (<see cref="IMassFailureGrain"/>); this silo-local part asks the
/// grain only for moves out of a braked farm or country and otherwise reads its cached answer.
/// </summary>
public sealed class MassFailureBrake(IGrainFactory grains, GridClock clock, GridMetrics metrics)
{
    private const long RefreshMs = 1000;
    private (long At, ImmutableArray<string> Keys) _engaged = (long.MinValue / 2, []);

    private IMassFailureGrain Grain => grains.GetGrain<IMassFailureGrain>(0);

    /// <summary>Keys (<c>farm:F</c>, <c>country:C</c>) whose moves were rate limited at this silo's last look.</summary>
    public IReadOnlyCollection<string> Engaged => _engaged.Keys;

    public async Task RecordDownAsync(long farmId, string country) => Remember(await Grain.RecordDownAsync(farmId, country));

    /// <summary>The keys under the brake now, asked of the cluster.</summary>
    public async Task<IReadOnlyCollection<string>> GetEngagedAsync() => Remember(await Grain.GetEngagedAsync());

    /// <summary>Waits for a move slot when the node's farm or country is under the brake.</summary>
    public async ValueTask WaitAsync(long farmId, string country, CancellationToken cancellationToken)
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
            if (!engaged.Keys.Contains(key))
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

    private ImmutableArray<string> Remember(ImmutableArray<string> keys)
    {
        _engaged = (Environment.TickCount64, keys);
        metrics.SetBrakeEngaged(keys.Length);
        return keys;
    }
}
