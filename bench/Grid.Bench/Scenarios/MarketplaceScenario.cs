using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grid.Billing;
using Grid.Grains;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Grid.Bench.Scenarios;

/// <summary>
/// The capacity marketplace (issue 23), in one silo in memory. Preemption: a full grid of spot reservations (four per
/// node), then priority-90 reservations of a whole node each, placed as the API places them — each one's time until it
/// is active and the scheduler's decision time (<c>grid.scheduling.preemption.duration</c>); then room for the victims
/// appears and the time until every one of them is active again is measured. Rents: every node of a grid rented, one
/// billing tick (as the rent's reminder delivers it) an hour of grid time later — the cost of a rent contract's bill.
/// Placement rate with rents and spot against the plain grid: <see cref="MarketplacePlacement"/>.
/// Checked: nothing overbooked, every victim placed exactly once, every rent billed once at the right amount.
/// </summary>
public static class MarketplaceScenario
{
    private static readonly Capacity NodeSize = new(4, 8L << 30, 0, 0);
    private static readonly Capacity Quarter = new(1, 2L << 30, 0, 0);

    public static async Task RunAsync(BenchScale scale, List<BenchRow> rows)
    {
        var nodes = scale.Name switch { "tiny" => 100, "large" => 10_000, _ => 1_000 };
        await MarketplacePlacement.RunAsync(scale, rows);
        await PreemptionAsync(nodes, rows);
        await RentBillingAsync(nodes, rows);
    }

    private static async Task PreemptionAsync(int nodeCount, List<BenchRow> rows)
    {
        var settings = BenchSilo.QuietHealth();
        settings["Grid:Scheduling:MaxPreemptionsPerMinute"] = "100000";
        settings["Grid:Scheduling:PreemptionNotice"] = "00:00:01";
        settings["Grid:Health:RetryBackoff"] = "00:00:00.100";
        await using var silo = await BenchSilo.StartAsync(settings);
        using var decisions = new DecisionTimes();
        var (owner, farm) = await silo.CreateFarmAsync();
        var nodes = await silo.RegisterNodesAsync(owner, farm, nodeCount, NodeSize, new Progress($"marketplace: {nodeCount} nodes", nodeCount));
        var tenant = BenchSilo.NextId();
        await silo.Grains.GetGrain<ITwinGrain>(tenant).CreateAsync("market", "hash");

        var spotCount = nodeCount * 4;
        var firstSpot = BenchSilo.NextId() + 300_000_000;
        var filled = await Measure.RunAsync(spotCount, 64, async i =>
            (await silo.Grains.GetGrain<IReservationGrain>(firstSpot + i).CreateAsync(Request(tenant, Quarter, 50, spot: true))).Reservation is not null,
            new Progress($"marketplace: {spotCount} spot reservations fill the grid", spotCount));
        if (filled.Failures > 0)
        {
            throw new BenchFailedException($"marketplace: {filled.Failures} spot reservations could not be placed on a grid with room");
        }

        // A tenth of the nodes given up by their spot reservations to priority 90, a few at a time (as tenants arrive).
        var highCount = Math.Max(10, nodeCount / 10);
        var firstHigh = firstSpot + spotCount + 1_000;
        decisions.Clear();
        var high = await Measure.RunAsync(highCount, 4, async i =>
            (await silo.Grains.GetGrain<IReservationGrain>(firstHigh + i).CreateAsync(Request(tenant, NodeSize, 90, spot: false))).Reservation is
                { State: ReservationState.Active },
            new Progress($"marketplace: {highCount} priority-90 reservations on the full grid", highCount));
        if (high.Failures > 0)
        {
            throw new BenchFailedException($"marketplace: {high.Failures} priority-90 reservations were not placed by preemption");
        }

        // The node tells its victims after its change: each one is preempted a moment after the newcomer is placed.
        var spots = Enumerable.Range(0, spotCount).Select(i => silo.Grains.GetGrain<IReservationGrain>(firstSpot + i)).ToList();
        var victims = highCount * 4;
        await LiveGrid.UntilAsync(async () => (await Task.WhenAll(spots.Select(s => s.GetAsync()))).Count(r => r!.State == ReservationState.Preempted) == victims,
            $"{victims} spot reservations preempted for {highCount} whole-node reservations", TimeSpan.FromMilliseconds(20));

        // Room for every victim appears (new nodes): time until all are active again, never two copies.
        var roomAt = Stopwatch.StartNew();
        var spare = await silo.RegisterNodesAsync(owner, farm, highCount, NodeSize);
        await LiveGrid.UntilAsync(async () => (await Task.WhenAll(spots.Select(s => s.GetAsync()))).All(r => r!.State == ReservationState.Active),
            "every preempted reservation active again", TimeSpan.FromMilliseconds(20), TimeSpan.FromMinutes(5));
        var replaced = roomAt.Elapsed;
        var allocations = await silo.CheckNotOverbookedAsync([.. nodes, .. spare]);
        if (allocations != spotCount + highCount)
        {
            throw new BenchFailedException($"marketplace: {allocations} allocations for {spotCount + highCount} reservations (a copy too many or lost)");
        }

        var label = $"{nodeCount} nodes full of spot (4 per node), {highCount} priority-90 whole-node reservations";
        rows.Add(new BenchRow("marketplace", label, "priority-90 placements/s (each preempting 4)", high.PerSecond, "1/s"));
        rows.Add(new BenchRow("marketplace", label, "create → active, p50", high.P50Ms, "ms"));
        rows.Add(new BenchRow("marketplace", label, "create → active, p99", high.P99Ms, "ms"));
        rows.Add(new BenchRow("marketplace", label, "preemption decision time, p99", decisions.Percentile(0.99) * 1000, "ms"));
        rows.Add(new BenchRow("marketplace", label, "spot placements/s on the empty grid", filled.PerSecond, "1/s"));
        rows.Add(new BenchRow("marketplace", label, $"room appears → all {victims} preempted active again (with what is left of the 1 s notice)", replaced.TotalMilliseconds, "ms"));
    }

    private static async Task RentBillingAsync(int nodeCount, List<BenchRow> rows)
    {
        var time = new HeldTime();
        var settings = BenchSilo.QuietHealth();
        // An hour of grid time passes with nobody heartbeating: no node may be taken for silent.
        settings["Grid:Health:HeartbeatTimeout"] = "7.00:00:00";
        settings["Grid:Billing:TickInterval"] = "7.00:00:00";
        await using var silo = await BenchSilo.StartAsync(settings, configure: s => s.Services.AddSingleton(new GridClock(time)));
        var options = silo.Services.GetRequiredService<IOptions<BillingOptions>>().Value;
        var (owner, farm) = await silo.CreateFarmAsync();
        var nodes = await silo.RegisterNodesAsync(owner, farm, nodeCount, NodeSize, new Progress($"marketplace: {nodeCount} nodes to rent", nodeCount));
        var renters = Enumerable.Range(0, Math.Max(1, nodeCount / 10)).Select(_ => BenchSilo.NextId()).ToList();
        var firstContract = BenchSilo.NextId() + 400_000_000;
        var rented = await Measure.RunAsync(nodeCount, 64, async i =>
            (await silo.Grains.GetGrain<INodeRentGrain>(nodes[(int)i]).RentAsync(renters[(int)(i % renters.Count)], firstContract + i)).NodeId == nodes[(int)i],
            new Progress($"marketplace: {nodeCount} nodes rented", nodeCount));
        if (rented.Failures > 0)
        {
            throw new BenchFailedException($"marketplace: {rented.Failures} free nodes could not be rented");
        }

        // One cycle of grid time, then each rent's billing tick as its reminder delivers it.
        time.Advance(options.Cycle + options.SettleDelay);
        var tick = new TickStatus(time.GetUtcNow().UtcDateTime, options.Cycle, time.GetUtcNow().UtcDateTime);
        var billed = await Measure.RunAsync(nodeCount, 64, async i =>
        {
            await silo.Grains.GetGrain<INodeRentGrain>(nodes[(int)i]).AsReference<IRemindable>().ReceiveReminder("rent-billing", tick);
            return true;
        }, new Progress($"marketplace: {nodeCount} rents billed", nodeCount));

        var seconds = (long)options.Cycle.TotalSeconds;
        foreach (var chunk in nodes.Chunk(512))
        {
            var all = await Task.WhenAll(chunk.Select(async id => (Rent: await silo.Grains.GetGrain<INodeRentGrain>(id).GetAsync(),
                Bills: await silo.Grains.GetGrain<INodeRentGrain>(id).GetBillsAsync())));
            if (all.FirstOrDefault(r => r.Bills.Length != 1 || r.Bills[0].Amount != Pricing.Cost(r.Rent!.PricePerHour, seconds)
                || r.Bills[0].Lines.Sum(l => l.Seconds) != seconds) is { Rent: { } wrong } bad)
            {
                throw new BenchFailedException($"marketplace: rent {wrong.Id} has {bad.Bills.Length} bills ({string.Join(", ", bad.Bills.Select(b => b.Amount))}) " +
                    $"for an hour at {wrong.PricePerHour} per hour");
            }
        }

        var label = $"{nodeCount} nodes rented by {renters.Count} twins, one tick an hour later";
        rows.Add(new BenchRow("marketplace", label, "rents/s (contract, lock, ledger entry)", rented.PerSecond, "1/s"));
        rows.Add(new BenchRow("marketplace", label, "rent bills/s (one tick each: bill, ledger, accounts)", billed.PerSecond, "1/s"));
        rows.Add(new BenchRow("marketplace", label, "rent tick p99", billed.P99Ms, "ms"));
        rows.Add(new BenchRow("marketplace", label, "CPU per rent bill", billed.CpuMicroseconds, "µs"));
    }

    private static ReservationRequest Request(long tenant, Capacity resources, int priority, bool spot) =>
        new(tenant, resources, PlacementConstraints.None, PlacementStrategy.Binpack) { Priority = priority, Spot = spot };

    /// <summary>The scheduler's preemption decision times, as its histogram records them (seconds).</summary>
    private sealed class DecisionTimes : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<double> _seconds = new();

        public DecisionTimes()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "grid.scheduling.preemption.duration")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, value, _, _) => _seconds.Enqueue(value));
            _listener.Start();
        }

        public void Clear() => _seconds.Clear();

        public double Percentile(double p) => _seconds.IsEmpty ? 0 : LiveGrid.Percentile([.. _seconds], p);

        public void Dispose() => _listener.Dispose();
    }
}
