using System.Diagnostics;
using Grid.Billing;
using Grid.Grains;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Grid.Bench.Scenarios;

/// <summary>
/// One full billing cycle in memory, through the production path: one reservation per node placed as a tenant
/// places it (scheduler, node ledgers, billing buckets), the rest stored as copies of those (<see cref="BillingSeed"/>:
/// real records, real buckets, real ledger entries, only faster), then grid time moved one cycle (plus the settle delay) ahead and
/// every billing shard ticked once — shard → buckets → each reservation's meter → one ledger entry per bill
/// (group commit) → the accounts → the reservation's cursor. Reports bills/s and the managed heap after the cycle.
/// Checked afterwards: exactly one bill per reservation, each one's debit equal to its credits.
/// </summary>
public static class BillingCycleScenario
{
    public static async Task RunAsync(BenchScale scale, List<BenchRow> rows)
    {
        var (reservations, nodeCount) = (scale.BillingReservations, scale.BillingNodes);
        var time = new HeldTime();
        var settings = BenchSilo.QuietHealth();
        // Grid time jumps a whole cycle ahead: nodes must not be taken for silent meanwhile (nobody heartbeats them).
        settings["Grid:Health:HeartbeatTimeout"] = "7.00:00:00";
        settings["Grid:Health:OrphanCheckInterval"] = "7.00:00:00";
        // Only the scenario ticks the shards (their timers would start the cycle before the clock is started).
        settings["Grid:Billing:TickInterval"] = "7.00:00:00";
        await using var silo = await BenchSilo.StartAsync(settings, configure: s =>
        {
            s.Services.AddSingleton(new GridClock(time));
            // A bucket of a million-reservation grid bills thousands of reservations in one call: no 30 s cut-off.
            s.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromMinutes(30));
        });
        var options = silo.Services.GetRequiredService<IOptions<BillingOptions>>().Value;

        var setup = Stopwatch.StartNew();
        var tenants = await CreateTwinsAsync(silo, Math.Max(1, reservations / 1_000));
        var perNode = (reservations / nodeCount) + 1;
        var farms = Math.Max(1, nodeCount / 1_000);
        var nodeProgress = new Progress($"billing: {nodeCount} nodes in {farms} farms", nodeCount);
        var nodes = new List<long>();
        for (var f = 0; f < farms; f++)
        {
            var (owner, farm) = await silo.CreateFarmAsync();
            nodes.AddRange(await silo.RegisterNodesAsync(owner, farm, nodeCount / farms, new Capacity(perNode, (long)perNode << 30, 0, 0)));
            nodeProgress.Add(nodeCount / farms);
        }

        nodeProgress.Done();
        var nodesIn = setup.Elapsed;
        // One reservation per node placed as a tenant places it; the rest stored as copies of those (BillingSeed).
        var templates = Math.Min(reservations, nodeCount);
        var first = BenchSilo.NextId() + 200_000_000;
        var placed = await Measure.RunAsync(templates, 128, async i =>
        {
            var request = new ReservationRequest(tenants[(int)(i % tenants.Count)], new Capacity(1, 1L << 30, 0, 0), PlacementConstraints.None, PlacementStrategy.Spread);
            return (await silo.Grains.GetGrain<IReservationGrain>(first + i).CreateAsync(request)).Reservation is not null;
        }, new Progress($"billing: {templates} reservations placed", templates));
        if (placed.Failures > 0)
        {
            throw new BenchFailedException($"billing: {placed.Failures} reservations could not be placed");
        }

        var placedIn = setup.Elapsed - nodesIn;
        await BillingSeed.CopyAsync(silo, options, first, templates, reservations);
        var copiedIn = setup.Elapsed - nodesIn - placedIn;

        var ledger = silo.Grains.GetGrain<ILedgerGrain>(0);
        var head = (await ledger.GetStatusAsync()).HeadSeq;
        MemoryScenario.Heap();
        var (gen2, pause) = (GC.CollectionCount(2), GC.GetTotalPauseDuration());

        // One cycle of grid time: each reservation's boundary comes once, so each bills exactly once.
        time.Advance(options.Cycle + options.SettleDelay);
        // The agents kept heartbeating meanwhile: a period is billed once its node was heard from after its end.
        await Parallel.ForEachAsync(nodes, new ParallelOptions { MaxDegreeOfParallelism = 64 },
            async (id, _) => await silo.Grains.GetGrain<INodeGrain>(id).HeartbeatAsync(new Heartbeat(1, [])));
        var clock = Stopwatch.StartNew();
        var asked = await BenchSilo.TickBillingAsync(silo.Services);
        clock.Stop();
        var (gen2During, pauseDuring) = (GC.CollectionCount(2) - gen2, GC.GetTotalPauseDuration() - pause);
        var info = GC.GetGCMemoryInfo();
        var heap = MemoryScenario.Heap();

        var bills = await CheckBillsAsync(silo.Services.GetRequiredService<ILedgerStore>(), head, reservations);
        if (asked != reservations)
        {
            throw new BenchFailedException($"billing: the shards asked {asked} reservations to bill, not {reservations}");
        }

        var case_ = $"{nodeCount} nodes + {reservations} reservations, one {options.Cycle.TotalHours:0} h cycle";
        rows.Add(new BenchRow("billing", case_, "setup: twins, farms, nodes registered and up", nodesIn.TotalSeconds, "s"));
        rows.Add(new BenchRow("billing", case_, $"setup: {templates} reservations placed (grain API)", placedIn.TotalSeconds, "s"));
        rows.Add(new BenchRow("billing", case_, $"setup: {reservations - templates} stored as copies", copiedIn.TotalSeconds, "s"));
        rows.Add(new BenchRow("billing", case_, "bills/s (memory)", bills / clock.Elapsed.TotalSeconds, "1/s"));
        rows.Add(new BenchRow("billing", case_, "cycle billed in", clock.Elapsed.TotalSeconds, "s"));
        rows.Add(new BenchRow("billing", case_, "managed heap after the cycle (full GC)", heap / (double)(1 << 20), "MiB"));
        rows.Add(new BenchRow("billing", case_, "GC heap at the end of the cycle", info.HeapSizeBytes / (double)(1 << 20), "MiB"));
        rows.Add(new BenchRow("billing", case_, "gen2 GCs / pause during the cycle", gen2During, $"({pauseDuring.TotalMilliseconds:0} ms paused)"));
    }

    private static async Task<List<long>> CreateTwinsAsync(BenchSilo silo, int count)
    {
        var ids = Enumerable.Range(0, count).Select(_ => BenchSilo.NextId()).ToList();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 32 },
            async (id, _) => await silo.Grains.GetGrain<ITwinGrain>(id).CreateAsync($"tenant-{id}", "hash"));
        return ids;
    }

    /// <summary>Every bill after <paramref name="head"/> has postings that sum to zero; one bill per reservation.</summary>
    private static async Task<long> CheckBillsAsync(ILedgerStore store, long head, int reservations)
    {
        var billed = new HashSet<string>(StringComparer.Ordinal);
        for (var from = head + 1; ; from += 10_000)
        {
            var page = await store.ReadAsync(from, 10_000);
            foreach (var entry in page)
            {
                if (entry.Kind != LedgerKinds.Bill)
                {
                    continue;
                }

                if (entry.Postings.Sum(p => p.Amount) != 0 || !billed.Add(entry.Subject))
                {
                    throw new BenchFailedException($"billing: ledger entry {entry.Seq} ({entry.Kind} {entry.EventId}) is not one balanced bill per reservation");
                }
            }

            if (page.Count < 10_000)
            {
                break;
            }
        }

        if (billed.Count != reservations)
        {
            throw new BenchFailedException($"billing: {billed.Count} bills for {reservations} reservations in one cycle");
        }

        return billed.Count;
    }
}
