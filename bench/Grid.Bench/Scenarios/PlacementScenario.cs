using System.Text.Json;
using Grid.Grains;
using Grid.Reservations;
using Microsoft.Extensions.DependencyInjection;
using Grid.Testing;

namespace Grid.Bench.Scenarios;

/// <summary>Reservations placed by concurrent clients as the API places them and through HTTP; nothing overbooked.</summary>
public static class PlacementScenario
{
    private static readonly Capacity NodeSize = new(64, 256L << 30, 4L << 40, 0);
    private static readonly Capacity Small = new(1, 1L << 30, 10L << 30, 0);

    /// <summary>Placements per durable run: PostgreSQL is an order of magnitude slower than memory.</summary>
    public static int DurablePlacements(BenchScale scale) => Math.Max(scale.Placements / 10, 200);

    /// <summary>
    /// Placements per in-memory run: at least the scale's count, and up to four times as many while they fill at
    /// most half of the grid. At 45k/s the default scale's 50k lasted about a second, of which the first part still
    /// ran on freshly activated nodes and buckets: 200k-placement runs of one build measured 55–67k/s where the
    /// 50k run of the report measured 44k/s.
    /// </summary>
    public static int InMemoryPlacements(BenchScale scale, int nodes) =>
        Math.Max(scale.Placements, (int)Math.Min(scale.Placements * 4L, nodes * (long)NodeSize.Cru / 2));

    /// <summary>Places on each node count in turn; returns the rate of the last.</summary>
    public static async Task<double> RunGrainsAsync(BenchScale scale, double baseline, List<BenchRow> rows, string? postgres = null, bool orleansProvider = false)
    {
        var rate = 0.0;
        var nodeCounts = postgres is null ? scale.PlacementNodes : [scale.PlacementNodes[0]];
        if (postgres is null)
        {
            await WarmUpProcessAsync(scale);
        }

        foreach (var nodes in nodeCounts)
        {
            var placements = postgres is null ? InMemoryPlacements(scale, nodes) : DurablePlacements(scale);
            var label = postgres is null ? "in memory" : orleansProvider ? "PostgreSQL, Orleans ADO.NET provider" : "PostgreSQL";
            var outcome = await PlaceOnFreshGridAsync(scale, nodes, placements, label, postgres, orleansProvider);
            var scenario = $"{nodes} nodes, {label}";
            var target = postgres is null ? (nodes >= 10_000 ? "≥ 50,000/s and ≥ 0.1 × baseline" : null) : orleansProvider ? null : "≥ 4,000/s";
            bool? met = postgres is null
                ? (nodes >= 10_000 ? outcome.PerSecond >= 50_000 && outcome.PerSecond >= 0.1 * baseline : null)
                : orleansProvider ? null : outcome.PerSecond >= 4_000;
            rows.Add(new BenchRow("placement", scenario, "placements/s (as the API places)", outcome.PerSecond, "1/s", target, met));
            rows.Add(new BenchRow("placement", scenario, "ratio to baseline", outcome.PerSecond / baseline, "×"));
            rows.Add(new BenchRow("placement", scenario, "p50 latency", outcome.P50Ms, "ms"));
            rows.Add(new BenchRow("placement", scenario, "p99 latency", outcome.P99Ms, "ms"));
            rows.Add(new BenchRow("placement", scenario, "CPU per placement", outcome.CpuMicroseconds, "µs"));
            rows.Add(new BenchRow("placement", scenario, "allocated per placement", outcome.AllocatedBytes / 1024, "KiB"));
            rows.Add(new BenchRow("placement", scenario, "GC pauses", 100 * outcome.GcPauseShare, "% of wall time"));
            rate = outcome.PerSecond;
        }

        return rate;
    }

    /// <summary>
    /// One measured case: a fresh silo with <paramref name="nodes"/> nodes, a tenth of <paramref name="placements"/>
    /// placed first as warm-up, then <paramref name="placements"/> measured; checked that every one was placed and
    /// nothing is overbooked. <paramref name="variant"/> (if any) changes the grid before placing and each request.
    /// </summary>
    internal static async Task<Measure.Outcome> PlaceOnFreshGridAsync(BenchScale scale, int nodes, int placements, string label,
        string? postgres = null, bool orleansProvider = false, PlacementVariant? variant = null)
    {
        await using var silo = await BenchSilo.StartAsync(BenchSilo.QuietHealth(), postgres, orleansProvider);
        var (nodeIds, place) = await PrepareAsync(silo, scale, nodes, $"placement: {nodes} nodes ({label})", variant?.Shape);
        if (variant is not null)
        {
            await variant.PrepareGrid(silo, nodeIds);
        }

        var firstId = BenchSilo.NextId() + 1_000_000;

        // Warm-up outside the measurement (JIT tiers, first activations of nodes and buckets, prepared statements):
        // a tenth as many placements again, into the same grid. Counted in the capacity check below.
        var warm = Math.Max(placements / 10, 100);
        var warmUp = await place(warm, firstId, $"placement: warm-up, {warm} reservations ({label})");
        var outcome = await place(placements, firstId + warm, $"placement: {placements} reservations ({label})");
        if (outcome.Failures + warmUp.Failures > 0)
        {
            throw new BenchFailedException($"{label}: {outcome.Failures + warmUp.Failures} of {placements + warm} reservations were not placed although capacity was free");
        }

        var allocated = await silo.CheckNotOverbookedAsync(nodeIds);
        if (allocated != placements + warm)
        {
            throw new BenchFailedException($"{label}: {allocated} allocations for {placements + warm} placed reservations");
        }

        if (variant is not null)
        {
            await variant.Verify(silo);
        }

        return outcome;
    }

    /// <summary>
    /// Places on a throwaway grid until the process's code has settled, before any measured case. The placement
    /// path reaches its optimized code (tiered JIT, profile-guided) only after seconds of steady load: measured at
    /// 10k nodes, a 50k-placement run behind a 5k warm-up took 79–86 µs of CPU per placement, a 200k run behind a
    /// 20k warm-up 45–50 µs. A grid controller runs for days; the steady state is what the figure should show.
    /// The measured grids are fresh; only the process is warm.
    /// </summary>
    private static async Task WarmUpProcessAsync(BenchScale scale)
    {
        const int nodes = 2_000;
        var placements = Math.Min(100_000, scale.Placements * 2);
        await using var silo = await BenchSilo.StartAsync(BenchSilo.QuietHealth());
        var (_, place) = await PrepareAsync(silo, scale, nodes, $"placement: process warm-up, {nodes} nodes");
        await place(placements, BenchSilo.NextId() + 1_000_000, $"placement: process warm-up, {placements} reservations");
    }

    /// <summary>
    /// Registers <paramref name="nodes"/> nodes on <paramref name="silo"/>, waits until its view has them and billing
    /// has ticked, and answers them with a way to place reservations from an id on: as the API places, handed to the
    /// silo's placer in-process, <see cref="BenchScale.Concurrency"/> at a time.
    /// </summary>
    private static async Task<(List<long> NodeIds, Func<int, long, string, Task<Measure.Outcome>> Place)> PrepareAsync(
        BenchSilo silo, BenchScale scale, int nodes, string what, Func<long, ReservationRequest, ReservationRequest>? shape = null)
    {
        var (twin, farm) = await silo.CreateFarmAsync();
        var nodeIds = await silo.RegisterNodesAsync(twin, farm, nodes, NodeSize, new Progress(what, nodes));
        await WaitForViewAsync(silo, nodes);
        await StartBillingAsync(silo.Services);
        var request = new ReservationRequest(twin, Small, PlacementConstraints.None, PlacementStrategy.Binpack);
        var placer = silo.Services.GetRequiredService<ReservationPlacer>();
        return (nodeIds, (count, from, progress) => Measure.RunAsync(count, scale.Concurrency,
            async i => (await placer.PlaceAsync(from + i, shape is null ? request : shape(from + i, request))).Reservation is not null, new Progress(progress, count)));
    }

    /// <summary>
    /// Ticks every billing shard once on the still empty grid, as billing has in any running grid. A shard's first
    /// tick looks back a whole cycle (it has no cursor yet) and asks every reservation listed since: left to its
    /// timer it fell inside the measurement and activated (read, flushed, rewrote) every reservation placed so
    /// far, a third of the silo's time in a durable run. Steady-state billing (the reservations due each tick)
    /// still runs during the measurement.
    /// </summary>
    private static Task StartBillingAsync(IServiceProvider services) => BenchSilo.TickBillingAsync(services);

    /// <summary>
    /// Placements over HTTP, also as a ratio to the <see cref="MinimalEndpoint"/>, measured in turns with them (a slice of
    /// the placements, then the endpoint as long as the slice took; see <see cref="Measure.InterleaveAsync"/>).
    /// </summary>
    public static async Task RunHttpAsync(BenchScale scale, double baseline, List<BenchRow> rows)
    {
        await using var minimal = await MinimalEndpoint.StartAsync();
        var nodes = scale.PlacementNodes[0];
        // One tenant places everything: its rate limit (1,000 requests/s by default) would measure the limiter, so it is
        // raised, not turned off — every request still passes the limiter, as heartbeats do.
        await using var host = await BenchHost.StartAsync("--Grid:Limits:TwinRequestsPerSecond=10000000", "--Grid:Limits:TwinBurst=10000000");
        var api = host.Client;
        var key = await host.CreateTwinAsync();
        var farm = await host.CreateFarmAsync(key);
        var progress = new Progress($"placement/http: {nodes} nodes", nodes);
        await Parallel.ForEachAsync(Enumerable.Range(0, nodes), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (_, _) =>
        {
            await host.RegisterUpNodeAsync(key, farm, NodeSize);
            progress.Add();
        });
        progress.Done();
        await Poll.UntilAsync(() => host.ViewCount >= nodes, TimeSpan.FromSeconds(30), "the index knows every node");
        await StartBillingAsync(host.Services);

        // The body as the minimal endpoint's and the heartbeats' clients send theirs: serialized once, with its length.
        var body = JsonSerializer.SerializeToUtf8Bytes(new { resources = new { cru = Small.Cru, mru = Small.Mru, sru = Small.Sru } });
        string? firstFailure = null;
        async Task<bool> PlaceAsync(long _)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/reservations")
            {
                Content = new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } },
            };
            request.Headers.Authorization = new("Bearer", key);
            using var response = await api.SendAsync(request);
            if (response.StatusCode != System.Net.HttpStatusCode.Created)
            {
                Interlocked.CompareExchange(ref firstFailure, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}", null);
                return false;
            }

            return true;
        }

        // Warmed up as the minimal endpoint it is compared with is (its code reaches its optimized tier first), on the
        // same grid: a quarter of the measured count, which the nodes hold beside it.
        var warmUp = await Measure.RunAsync(scale.HttpPlacements / 4, scale.Concurrency, PlaceAsync,
            new Progress($"placement/http: warm-up, {scale.HttpPlacements / 4} reservations", scale.HttpPlacements / 4));
        if (warmUp.Failures > 0)
        {
            throw new BenchFailedException($"{warmUp.Failures} HTTP placements failed in the warm-up; the first: {firstFailure}");
        }

        await minimal.WarmUpAsync(scale.HeartbeatDuration / 5, scale.Concurrency);
        const int rounds = 5;
        var (outcome, ceiling) = await Measure.InterleaveCountAsync(scale.HttpPlacements, rounds, scale.Concurrency, PlaceAsync, minimal.PostAsync,
            new Progress($"placement/http: {scale.HttpPlacements} reservations and the minimal endpoint, in {rounds} turns", rounds));
        if (outcome.Failures > 0 || ceiling.Failures > 0)
        {
            throw new BenchFailedException($"{outcome.Failures} HTTP placements failed (the first: {firstFailure}), {ceiling.Failures} minimal endpoint requests");
        }

        var scenario = $"{nodes} nodes, HTTP";
        MinimalEndpoint.Report("placement", $"{MinimalEndpoint.Case}, {scale.Concurrency} clients, beside HTTP placement", ceiling, rows);
        rows.Add(new BenchRow("placement", scenario, "placements/s (HTTP)", outcome.PerSecond, "1/s"));
        rows.Add(new BenchRow("placement", scenario, "ratio to baseline", outcome.PerSecond / baseline, "×"));
        MinimalEndpoint.ReportRatio("placement", scenario, outcome, ceiling, rows);
        rows.Add(new BenchRow("placement", scenario, "p50 latency", outcome.P50Ms, "ms"));
        rows.Add(new BenchRow("placement", scenario, "p99 latency", outcome.P99Ms, "ms"));
        rows.Add(new BenchRow("placement", scenario, "CPU per placement", outcome.CpuMicroseconds, "µs"));
        rows.Add(new BenchRow("placement", scenario, "allocated per placement", outcome.AllocatedBytes / 1024, "KiB"));
        rows.Add(new BenchRow("placement", scenario, "GC pauses", 100 * outcome.GcPauseShare, "% of wall time"));
    }

    private static Task WaitForViewAsync(BenchSilo silo, int nodes) =>
        Poll.UntilAsync(() => silo.ViewCount >= nodes, TimeSpan.FromSeconds(60), "the silo's capacity view knows every node");
}
