namespace Grid.Bench.Scenarios;

/// <summary>
/// No-op grain calls over 10k grains: the yardstick every throughput is divided by. Also the rate of first
/// calls to new grains (activations), stateless and with state in the grid's storage, since every placement
/// activates a new reservation grain.
/// </summary>
public static class BaselineScenario
{
    public static async Task<double> RunAsync(BenchScale scale, List<BenchRow> rows)
    {
        await using var silo = await BenchSilo.StartAsync(BenchSilo.QuietHealth());
        var grains = Enumerable.Range(0, 10_000).Select(i => silo.Grains.GetGrain<IPingGrain>(i)).ToArray();
        foreach (var grain in grains)
        {
            await grain.PingAsync();
        }

        var outcome = await Measure.RunAsync(scale.BaselineCalls, scale.Concurrency, async i =>
        {
            await grains[i % grains.Length].PingAsync();
            return true;
        }, new Progress("baseline: no-op grain calls", scale.BaselineCalls));
        rows.Add(new BenchRow("baseline", "10k grains", "calls/s", outcome.PerSecond, "1/s", "≈ 580k/s (reference machine)"));
        rows.Add(new BenchRow("baseline", "10k grains", "p99 latency", outcome.P99Ms, "ms"));

        var activations = scale.Placements;
        var stateless = await Measure.RunAsync(activations, scale.Concurrency, async i =>
        {
            await silo.Grains.GetGrain<IPingGrain>(1_000_000 + i).PingAsync();
            return true;
        }, new Progress("baseline: new grains", activations));
        rows.Add(new BenchRow("baseline", "new grains", "activations/s", stateless.PerSecond, "1/s", "≈ 22k/s (reference machine)"));
        var stateful = await Measure.RunAsync(activations, scale.Concurrency, async i =>
        {
            await silo.Grains.GetGrain<IStatefulPingGrain>(i).PingAsync();
            return true;
        }, new Progress("baseline: new grains with state", activations));
        rows.Add(new BenchRow("baseline", "new grains with stored state", "activations/s", stateful.PerSecond, "1/s"));
        return outcome.PerSecond;
    }
}
