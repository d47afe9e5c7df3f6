using Grid.Grains;

namespace Grid.Bench.Scenarios;

/// <summary>Managed heap per active node grain and per reservation (with everything a placement creates).</summary>
public static class MemoryScenario
{
    public static async Task RunAsync(BenchScale scale, List<BenchRow> rows)
    {
        await using var silo = await BenchSilo.StartAsync(BenchSilo.QuietHealth());
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

        var afterReservations = Heap();
        if (await silo.CheckNotOverbookedAsync(nodes) != scale.MemoryReservations)
        {
            throw new BenchFailedException("allocations do not match the reservations");
        }

        var case_ = $"{scale.MemoryNodes} nodes + {scale.MemoryReservations} reservations";
        rows.Add(new BenchRow("memory", case_, "bytes per node grain", (afterNodes - before) / (double)scale.MemoryNodes, "B"));
        rows.Add(new BenchRow("memory", case_, "bytes per reservation", (afterReservations - afterNodes) / (double)scale.MemoryReservations, "B"));
        var projected = (afterNodes - before) / (double)scale.MemoryNodes * 100_000 + (afterReservations - afterNodes) / (double)scale.MemoryReservations * 1_000_000;
        rows.Add(new BenchRow("memory", case_, "projected heap for 100k nodes + 1M reservations", projected / (1 << 20), "MiB", "< 4 GB", projected < 4e9));
    }

    private static long Heap()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
