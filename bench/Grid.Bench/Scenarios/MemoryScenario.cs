using Grid.Testing;
using Grid.Grains;
using Grid.Proxy;

namespace Grid.Bench.Scenarios;

/// <summary>
/// Managed heap per active node grain and per reservation (with everything a placement creates), first with
/// every reservation grain active, then once idle reservation grains are collected (what a grid settles to:
/// reservations are idle between their rare calls, nodes stay active through their heartbeats). Twice: in memory
/// mode (the embedded default, where the ledger, the grain store and the grid-proxy rows are themselves in the heap)
/// and on PostgreSQL (how a grid of that size runs: those stores are the database's), unless <c>--postgres off</c>.
/// </summary>
public static class MemoryScenario
{
    /// <param name="scale">The sizes.</param>
    /// <param name="rows">Where the results go.</param>
    /// <param name="postgres"><c>--postgres</c>: auto, off or a connection string.</param>
    /// <param name="stores">Which cases run: <c>memory</c>, <c>postgres</c> or <c>both</c> (a full-size run takes minutes each).</param>
    public static async Task RunAsync(BenchScale scale, List<BenchRow> rows, string postgres, string stores)
    {
        if (stores is not ("memory" or "postgres" or "both"))
        {
            throw new BenchFailedException($"--memory-stores {stores}: memory, postgres or both");
        }

        if (stores != "postgres")
        {
            await RunGrainsAsync(scale, rows, database: null);
        }

        if (stores != "memory")
        {
            await RunOnPostgresAsync(scale, rows, postgres);
        }

        // After the silos are gone, so their background work does not blur the smaller figures.
        MemoryRows.Measure(rows);
    }

    private static Task RunOnPostgresAsync(BenchScale scale, List<BenchRow> rows, string postgres) =>
        BenchRunner.WithPostgresAsync(postgres, "memory: the PostgreSQL case", async database => await RunGrainsAsync(scale, rows, await database("grid_memory")));

    private static async Task RunGrainsAsync(BenchScale scale, List<BenchRow> rows, string? database)
    {
        // With the grid-proxy read model as the host runs it (in the heap in memory mode, tables on PostgreSQL): its
        // contract rows are part of a reservation.
        await using var silo = await BenchSilo.StartAsync(BenchSilo.QuietHealth(), database, configure: s => s.Services.AddGridProxy(database));
        var (twin, farm) = await silo.CreateFarmAsync();
        var before = Heap();
        var perNode = Math.Max(1, scale.MemoryReservations / scale.MemoryNodes + 1);
        var nodes = await silo.RegisterNodesAsync(twin, farm, scale.MemoryNodes, new Capacity(perNode, (long)perNode << 30, 0, 0),
            new Progress($"memory: {scale.MemoryNodes} node grains", scale.MemoryNodes));
        var afterNodes = Heap();

        var first = BenchSilo.NextId() + 100_000_000;
        var outcome = await Measure.RunAsync(scale.MemoryReservations, 64, async i =>
        {
            var request = new ReservationRequest(twin, new Capacity(1, 1L << 30, 0, 0), PlacementConstraints.None, PlacementStrategy.Spread);
            return (await silo.Grains.GetGrain<IReservationGrain>(first + i).CreateAsync(request)).Reservation is not null;
        }, new Progress($"memory: {scale.MemoryReservations} reservations", scale.MemoryReservations));
        if (outcome.Failures > 0)
        {
            throw new BenchFailedException($"{outcome.Failures} reservations could not be placed");
        }

        await ReadModelCaughtUpAsync(silo, scale.MemoryReservations);
        var afterReservations = Heap();
        if (await silo.CheckNotOverbookedAsync(nodes) != scale.MemoryReservations)
        {
            throw new BenchFailedException("allocations do not match the reservations");
        }

        var afterCollection = await CollectIdleAsync(silo, nodes, scale.MemoryReservations);
        await HoldForDumpAsync();

        var case_ = $"{scale.MemoryNodes} nodes + {scale.MemoryReservations} reservations{(database is null ? "" : ", PostgreSQL")}";
        var perNodeBytes = (afterNodes - before) / (double)scale.MemoryNodes;
        var perActive = (afterReservations - afterNodes) / (double)scale.MemoryReservations;
        var perIdle = (afterCollection - afterNodes) / (double)scale.MemoryReservations;
        rows.Add(new BenchRow("memory", case_, "bytes per node grain", perNodeBytes, "B"));
        rows.Add(new BenchRow("memory", case_, "bytes per reservation, grain active", perActive, "B"));
        rows.Add(new BenchRow("memory", case_, "bytes per reservation, idle grain collected", perIdle, "B"));
        var active = perNodeBytes * 100_000 + perActive * 1_000_000;
        var settled = perNodeBytes * 100_000 + perIdle * 1_000_000;
        rows.Add(new BenchRow("memory", case_, "projected heap, 100k nodes + 1M reservations all active", active / (1 << 20), "MiB"));
        // A linear projection (it overstates full size: the directory cache is bounded, Orleans' tables and the silo's
        // fixed part do not grow with the grid); the goal is judged on the heap measured at full size, below.
        rows.Add(new BenchRow("memory", case_, "projected heap, 100k nodes + 1M reservations idle", settled / (1 << 20), "MiB"));
        rows.Add(new BenchRow("memory", case_, "heap settled (measured)", afterCollection / (double)(1 << 20), "MiB",
            scale.MemoryNodes >= 100_000 ? "< 1 GiB" : null, scale.MemoryNodes >= 100_000 ? afterCollection < 1 << 30 : null));
    }

    /// <summary>
    /// Waits until the grid-proxy read model holds a contract per reservation (and in memory has folded the whole
    /// ledger); fails only when neither the model nor the ledger moved for a minute (at full size the fold takes
    /// minutes), and says every 10 s where both stand.
    /// </summary>
    private static async Task ReadModelCaughtUpAsync(BenchSilo silo, int reservations)
    {
        var store = silo.Services.GetRequiredService<IProxyReadStore>();
        var model = silo.Services.GetService<ProxyReadModel>();
        var ledger = silo.Services.GetRequiredService<ILedgerReader>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (lastContracts, lastLedger, lastMove, lastSaid) = (-1L, -1L, TimeSpan.Zero, TimeSpan.Zero);
        while (true)
        {
            var ledgerHead = (await ledger.ReadHeadAsync()).Seq;
            var contracts = (await store.TotalsAsync(CancellationToken.None)).Contracts;
            var head = model?.Head ?? ledgerHead;
            if (contracts >= reservations && head >= ledgerHead)
            {
                return;
            }

            if (contracts != lastContracts || ledgerHead != lastLedger)
            {
                (lastContracts, lastLedger, lastMove) = (contracts, ledgerHead, clock.Elapsed);
            }
            else if (clock.Elapsed - lastMove > TimeSpan.FromMinutes(1))
            {
                throw new BenchFailedException($"the grid-proxy read model stopped at {contracts} of {reservations} contracts (the ledger's head {ledgerHead})");
            }

            if (clock.Elapsed - lastSaid > TimeSpan.FromSeconds(10))
            {
                lastSaid = clock.Elapsed;
                var writer = await silo.Grains.GetGrain<ILedgerGrain>(0).GetStatusAsync();
                Console.Error.WriteLine($"memory: read model at {contracts} of {reservations} contracts{(model is null ? "" : $", entry {model.Head}")} of the ledger's {ledgerHead}; " +
                    $"the ledger grain's head {writer.HeadSeq}, {writer.Pending} appends queued in it ({clock.Elapsed.TotalSeconds:0} s)");
            }

            await Task.Delay(model is null ? 1000 : 200); // a count of the PostgreSQL table is not free
        }
    }

    /// <summary>GRID_BENCH_MEMORY_HOLD=seconds: keeps the settled silo that long, for a heap dump (dotnet-gcdump).</summary>
    private static async Task HoldForDumpAsync()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("GRID_BENCH_MEMORY_HOLD"), out var seconds) && seconds > 0)
        {
            Console.Error.WriteLine($"memory: settled, holding {seconds} s for a heap dump of process {Environment.ProcessId}");
            await Task.Delay(TimeSpan.FromSeconds(seconds));
        }
    }

    /// <summary>Collects every idle activation, waits for it, then wakes the node grains again (heartbeats would).</summary>
    private static async Task<long> CollectIdleAsync(BenchSilo silo, List<long> nodes, int reservations)
    {
        var management = silo.Grains.GetGrain<IManagementGrain>(0);
        try
        {
            await management.ForceActivationCollection(TimeSpan.Zero);
        }
        catch (TimeoutException)
        {
            // A million deactivations outlast the 30 s response timeout; the collection goes on, polled below.
        }

        var deadline = DateTime.UtcNow.AddSeconds(60 + (reservations / 5_000));

        // Left active: the node grains, and a few dozen system, index and farm grains.
        while (await management.GetTotalActivationCount() > nodes.Count + (reservations / 10) + 100)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new BenchFailedException($"idle reservation grains were not collected in time ({await management.GetTotalActivationCount()} activations)");
            }

            await Task.Delay(200);
        }

        if (await silo.CheckNotOverbookedAsync(nodes) != reservations)
        {
            throw new BenchFailedException("allocations changed when idle grains were collected");
        }

        return Heap();
    }

    internal static long Heap()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
