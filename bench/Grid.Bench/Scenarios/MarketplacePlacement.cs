using Grid.Grains;
using Grid.Scheduling;
using Grid.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Grid.Bench.Scenarios;

/// <summary>
/// Issue 23's placement rate on a marketplace grid: a tenth of the nodes rented by other twins (every placement must
/// pass them by) and three in ten reservations spot, against the plain grid of <see cref="PlacementScenario"/> (same
/// size, same placement loop, no rents, no spot) in the same run, reported as a ratio. The cases alternate plain,
/// marketplace, marketplace, plain on fresh silos after one unmeasured marketplace run, so the process's warming
/// and the machine's load drifting over the run fall on both sides alike. Checked: nothing placed on a rented node.
/// </summary>
internal static class MarketplacePlacement
{
    public static async Task RunAsync(BenchScale scale, List<BenchRow> rows)
    {
        var nodes = scale.PlacementNodes[0];
        var placements = PlacementScenario.InMemoryPlacements(scale, nodes);
        var rentedCount = nodes / 10;
        await PlaceAsync(scale, nodes, placements, rentedCount, "warm-up");

        var plain = new List<Measure.Outcome>();
        var market = new List<Measure.Outcome>();
        foreach (var marketplace in new[] { false, true, true, false })
        {
            (marketplace ? market : plain).Add(marketplace
                ? await PlaceAsync(scale, nodes, placements, rentedCount, "10 % rented, 30 % spot")
                : await PlacementScenario.PlaceOnFreshGridAsync(scale, nodes, placements, "plain"));
        }

        var plainRate = plain.Average(o => o.PerSecond);
        var marketRate = market.Average(o => o.PerSecond);
        var ratio = marketRate / plainRate;
        var label = $"{nodes} nodes, {placements} placements, plain vs {rentedCount} rented by other twins and 30 % spot (mean of 2 runs each)";
        rows.Add(new BenchRow("marketplace", label, "placements/s, plain grid", plainRate, "1/s"));
        rows.Add(new BenchRow("marketplace", label, "placements/s, 10 % rented and 30 % spot", marketRate, "1/s"));
        rows.Add(new BenchRow("marketplace", label, "ratio marketplace / plain", ratio, "×", "≥ 0.8×", ratio >= 0.8));
        rows.Add(new BenchRow("marketplace", label, "p99 latency, plain grid", plain.Max(o => o.P99Ms), "ms"));
        rows.Add(new BenchRow("marketplace", label, "p99 latency, 10 % rented and 30 % spot", market.Max(o => o.P99Ms), "ms"));
    }

    private static Task<Measure.Outcome> PlaceAsync(BenchScale scale, int nodes, int placements, int rentedCount, string label)
    {
        var rented = new List<long>();
        var variant = new PlacementVariant(
            async (silo, nodeIds) =>
            {
                // Spread over the grid (every tenth node), each by its own twin, as tenants rent.
                rented.AddRange(nodeIds.Where((_, i) => i % 10 == 9).Take(rentedCount));
                var firstContract = BenchSilo.NextId() + 500_000_000;
                await Task.WhenAll(rented.Select((id, i) => silo.Grains.GetGrain<INodeRentGrain>(id).RentAsync(BenchSilo.NextId(), firstContract + i)));
                var view = silo.Services.GetRequiredService<CapacityView>();
                await Poll.UntilAsync(() => rented.All(id => view.TryGet(id, out var node) && node.RentedBy is not null),
                    TimeSpan.FromSeconds(60), "the silo's capacity view knows every rent");
            },
            (id, request) => id % 10 < 3 ? request with { Spot = true } : request,
            async silo =>
            {
                if (await silo.CheckNotOverbookedAsync(rented) is var onRented and > 0)
                {
                    throw new BenchFailedException($"marketplace: {onRented} reservations placed on nodes rented by other twins");
                }
            });
        return PlacementScenario.PlaceOnFreshGridAsync(scale, nodes, placements, label, variant: variant);
    }
}
