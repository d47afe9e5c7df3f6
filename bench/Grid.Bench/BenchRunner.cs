using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Grid.Bench.Scenarios;
using Grid.Testing;

namespace Grid.Bench;

/// <summary>
/// <c>Grid.Bench [all|baseline|placement|durable|failover|heartbeat|memory|proxy|billing|ledger|healing|containers|gateway|marketplace|a,comma,list] [--scale tiny|default|large] [--json FILE]
/// [--report DIR] [--postgres auto|off|CONNSTRING] [--billing-size RESERVATIONS/NODES] [--nodes N] [--placements N] [--http-placements N] [--memory-size NODES/RESERVATIONS] [--memory-stores memory|postgres|both] [--concurrency N] [--windows FILE]
/// [--http off]</c>. Exits non-zero when a correctness check fails.
/// </summary>
public static class BenchRunner
{
    private static readonly string[] Scenarios = ["baseline", "placement", "durable", "failover", "heartbeat", "memory", "proxy", "billing", "ledger", "healing", "containers", "gateway", "marketplace", "limits"];

    public static async Task<int> RunAsync(string[] args)
    {
        var scenario = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
        var scale = BenchScale.Of(Option(args, "--scale") ?? "default");
        // One focused placement case (e.g. --nodes 10000 --placements 20000) without the scale's other sizes.
        if (Option(args, "--nodes") is { } nodes)
        {
            scale = scale with { PlacementNodes = [int.Parse(nodes, CultureInfo.InvariantCulture)] };
        }

        if (Option(args, "--placements") is { } placements)
        {
            scale = scale with { Placements = int.Parse(placements, CultureInfo.InvariantCulture) };
        }

        if (Option(args, "--http-placements") is { } httpPlacements)
        {
            scale = scale with { HttpPlacements = int.Parse(httpPlacements, CultureInfo.InvariantCulture) };
        }

        // The memory scenario at another size: --memory-size NODES/RESERVATIONS.
        if (Option(args, "--memory-size")?.Split('/') is [var memoryNodes, var memoryReservations])
        {
            scale = scale with { MemoryNodes = int.Parse(memoryNodes, CultureInfo.InvariantCulture), MemoryReservations = int.Parse(memoryReservations, CultureInfo.InvariantCulture) };
        }

        if (Option(args, "--concurrency") is { } concurrency)
        {
            scale = scale with { Concurrency = int.Parse(concurrency, CultureInfo.InvariantCulture) };
        }

        // The interleaved measurements' windows, for splitting a perf profile of the run by case (Measure.WindowLog).
        await using var windows = Option(args, "--windows") is { } windowFile ? new StreamWriter(windowFile) : null;
        Measure.WindowLog = windows;

        var json = Option(args, "--json");
        var report = Option(args, "--report");
        var postgres = Option(args, "--postgres") ?? "auto";
        // An intermediate billing cycle without the rest of a scale: --billing-size RESERVATIONS/NODES.
        if (Option(args, "--billing-size")?.Split('/') is [var billed, var on])
        {
            scale = scale with { BillingReservations = int.Parse(billed, CultureInfo.InvariantCulture), BillingNodes = int.Parse(on, CultureInfo.InvariantCulture) };
        }

        // A comma-separated list runs several scenarios in one report (e.g. all but the longest).
        var chosen = scenario.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        if (chosen.FirstOrDefault(name => name != "all" && !Scenarios.Contains(name)) is { } unknown)
        {
            Console.Error.WriteLine($"Unknown scenario '{unknown}'. Use one of: all, {string.Join(", ", Scenarios)} (or a comma-separated list).");
            return 2;
        }

        bool Runs(string name) => chosen.Contains("all") || chosen.Contains(name);

        var rows = new List<BenchRow>();
        var clock = Stopwatch.StartNew();
        try
        {
            var baseline = await BaselineScenario.RunAsync(scale, rows);

            if (Runs("placement"))
            {
                await PlacementScenario.RunGrainsAsync(scale, baseline, rows);
                if (Option(args, "--http") != "off")
                {
                    await PlacementScenario.RunHttpAsync(scale, baseline, rows);
                }

                await RunDurablePlacementAsync(scale, baseline, rows, postgres);
            }

            if (chosen.Contains("durable"))
            {
                await RunDurablePlacementAsync(scale, baseline, rows, postgres, withOrleansProvider: true);
            }

            if (Runs("failover"))
            {
                await FailoverScenario.RunAsync(scale, rows);
            }

            if (Runs("heartbeat"))
            {
                await HeartbeatScenario.RunAsync(scale, baseline, rows);
            }

            if (Runs("memory"))
            {
                await MemoryScenario.RunAsync(scale, rows, postgres, Option(args, "--memory-stores") ?? "both");
            }

            if (Runs("proxy"))
            {
                await ProxyScenario.RunAsync(scale, rows, postgres);
            }

            if (Runs("billing") || chosen.Contains("ledger"))
            {
                // "ledger": only the appends on PostgreSQL, without the billing cycle.
                await BillingScenario.RunAsync(scale, rows, postgres, cycle: Runs("billing"));
            }

            if (Runs("healing"))
            {
                await HealingScenario.RunAsync(scale, rows);
            }

            if (Runs("containers"))
            {
                await ContainersScenario.RunAsync(scale, rows);
            }

            if (Runs("gateway"))
            {
                await GatewayScenario.RunAsync(scale, rows);
            }

            if (Runs("marketplace"))
            {
                await MarketplaceScenario.RunAsync(scale, rows);
            }

            if (Runs("limits"))
            {
                await LimitsScenario.RunAsync(scale, rows);
            }
        }
        catch (BenchFailedException failure)
        {
            Console.Error.WriteLine();
            Console.Error.WriteLine($"BENCHMARK FAILED: {failure.Message}");
            return 1;
        }

        clock.Stop();
        Console.WriteLine(BenchReport.Table(rows));
        Console.WriteLine($"{scenario} at scale {scale.Name} finished in {clock.Elapsed.TotalSeconds:0} s");
        if (json is not null)
        {
            await File.WriteAllTextAsync(json, JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
        }

        if (report is not null)
        {
            await BenchReport.WriteAsync(report, scale, scenario, rows, clock.Elapsed);
        }

        return 0;
    }

    private static Task RunDurablePlacementAsync(BenchScale scale, double baseline, List<BenchRow> rows, string postgres, bool withOrleansProvider = false) =>
        WithPostgresAsync(postgres, "placement on PostgreSQL", async database => await CompareWithPeerAsync(scale, baseline, rows,
            await database("grid_peer"), await database("grid_bench"), await database("grid_bench_orleans"), withOrleansProvider));

    /// <summary>
    /// The SQL peer first (at 32 clients, the issue's pgbench figure, and at the scenario's concurrency), then our
    /// durable placement on the same server; our rate is reported as a ratio to the peer's better run. With
    /// <paramref name="withOrleansProvider"/> also placement through Orleans' ADO.NET grain storage (the before).
    /// </summary>
    private static async Task CompareWithPeerAsync(
        BenchScale scale, double baseline, List<BenchRow> rows, string peerDatabase, string gridDatabase, string orleansDatabase, bool withOrleansProvider)
    {
        var placements = PlacementScenario.DurablePlacements(scale);
        var peerCase = $"{PlacementPeer.Nodes} node rows, SQL peer";
        var best = 0.0;
        foreach (var clients in new[] { 32, scale.Concurrency }.Distinct())
        {
            var peer = await PlacementPeer.RunAsync(peerDatabase, placements, clients);
            rows.Add(new BenchRow("placement", $"{peerCase}, {clients} clients", "placements/s (one transaction each)", peer.PerSecond, "1/s"));
            rows.Add(new BenchRow("placement", $"{peerCase}, {clients} clients", "p99 latency", peer.P99Ms, "ms"));
            best = Math.Max(best, peer.PerSecond);
        }

        if (withOrleansProvider)
        {
            var before = await PlacementScenario.RunGrainsAsync(scale, baseline, rows, orleansDatabase, orleansProvider: true);
            rows.Add(new BenchRow("placement", $"{scale.PlacementNodes[0]} nodes, PostgreSQL, Orleans ADO.NET provider",
                "ratio to SQL peer (better run)", before / best, "×"));
        }

        var ours = await PlacementScenario.RunGrainsAsync(scale, baseline, rows, gridDatabase);
        rows.Add(new BenchRow("placement", $"{scale.PlacementNodes[0]} nodes, PostgreSQL", "ratio to SQL peer (better run)",
            ours / best, "×", "≥ 1.0 × SQL peer", ours >= best));
    }

    /// <summary>Whether the PostgreSQL cases are off: <c>--postgres off</c>, or <c>auto</c> on a machine without the server binaries.</summary>
    internal static bool PostgresOff(string postgres) => postgres == "off" || (postgres == "auto" && !Directory.Exists("/usr/lib/postgresql"));

    /// <summary>
    /// Runs <paramref name="run"/> with where its databases are: given their names, the <c>--postgres</c> connection
    /// string for each, or with <c>auto</c> new databases of those names on a throwaway server (a durable one with
    /// <paramref name="durable"/>) started for the run and stopped after it. When the PostgreSQL cases are off
    /// (<see cref="PostgresOff"/>), says that <paramref name="what"/> is skipped instead.
    /// </summary>
    internal static async Task WithPostgresAsync(string postgres, string what, Func<Func<string, Task<string>>, Task> run, bool durable = false)
    {
        if (PostgresOff(postgres))
        {
            Console.Error.WriteLine($"{what} skipped (--postgres off, or no PostgreSQL server binaries)");
            return;
        }

        if (postgres != "auto")
        {
            await run(_ => Task.FromResult(postgres));
            return;
        }

        await using var server = await PostgresServer.StartNewAsync(durable);
        await run(server.CreateDatabaseAsync);
    }

    private static string? Option(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
