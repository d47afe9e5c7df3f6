using System.Collections.Concurrent;
using Grid.Billing;
using Grid.Ledger;
using Grid.Testing;

namespace Grid.Grains.Tests;

/// <summary>
/// One random marketplace sequence on three nodes of its own (8 cores, 16 GiB each; a country of its own) and the
/// test's own account of it: grid time stands still while a step settles; the served time of each reservation is
/// read back from its events (placed, moved, preempted, placed again, unschedulable, cancelled) and its node's last
/// heartbeat when the node was lost, then compared with its bills.
/// </summary>
internal sealed class MarketSequence(GridCluster grid, MemoryLedgerStore ledger)
{
    private const long Gib = 1L << 30;
    private const int MaxReservations = 16;
    private static readonly TimeSpan Stride = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan DeclaredDownAfter = TimeSpan.FromSeconds(91);
    private static readonly ConcurrentDictionary<string, int> Seen = new();
    private static int _sequences;

    private readonly string _country = $"M{Interlocked.Increment(ref _sequences)}";
    private readonly long _tenant = GridCluster.NewId();
    private readonly long _farmer = GridCluster.NewId();
    private readonly List<(long Id, bool Spot)> _reservations = [];
    private readonly Dictionary<long, DateTimeOffset> _lastBeat = [];
    private readonly HashSet<long> _lost = [];
    private long[] _nodes = [];

    private DateTimeOffset Now => grid.Clock.GetUtcNow();

    public static string Stats() => string.Join(", ", Seen.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}"));

    public async Task<bool> RunAsync(IReadOnlyList<MarketOp> ops)
    {
        var farm = await grid.CreateFarmAsync(_farmer);
        _nodes = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => grid.RegisterNodeAsync(farm, _farmer, new Capacity(8, 16 * Gib, 0, 0), _country)));
        foreach (var node in _nodes)
        {
            _lastBeat[node] = Now;
        }

        foreach (var op in ops)
        {
            await ApplyAsync(op);
            await CheckHoldingsAsync();
        }

        foreach (var (id, _) in _reservations)
        {
            await grid.Grains.GetGrain<IReservationGrain>(id).CancelAsync();
        }

        await CheckHoldingsAsync();
        await CheckBillsAsync();
        return true;
    }

    private async Task ApplyAsync(MarketOp op)
    {
        switch (op.Kind)
        {
            case MarketOpKind.Reserve:
                await ReserveAsync(op.A, op.B == 1 ? 10 : 50, spot: false);
                break;
            case MarketOpKind.Spot:
                await ReserveAsync(op.A, 50, spot: true);
                break;
            case MarketOpKind.Preempt:
                await ReserveAsync(op.A, 90, spot: false);
                break;
            case MarketOpKind.Cancel when _reservations.Count > 0:
                await grid.Grains.GetGrain<IReservationGrain>(_reservations[op.A % _reservations.Count].Id).CancelAsync();
                break;
            case MarketOpKind.NodeLoss when !_lost.Contains(_nodes[op.A]) && _lost.Count < 2:
                await LoseAsync(_nodes[op.A]);
                break;
            case MarketOpKind.Advance:
                await AdvanceAsync(TimeSpan.FromSeconds(op.A));
                break;
            case MarketOpKind.Tick:
                await BillingSteps.TickAsync(grid);
                break;
        }
    }

    private async Task ReserveAsync(int size, int priority, bool spot)
    {
        if (_reservations.Count >= MaxReservations)
        {
            return;
        }

        var id = GridCluster.NewId();
        var request = new ReservationRequest(_tenant, new Capacity(2 * size, 4 * Gib * size, 0, 0), PlacementConstraints.None with { Country = _country },
            PlacementStrategy.Binpack) { Priority = priority, Spot = spot };
        var outcome = await grid.Placer.PlaceAsync(id, request);
        Count(outcome.Reservation is null ? $"refused p{priority}" : $"placed p{priority}{(spot ? " spot" : "")}");
        if (outcome.Reservation is { } placed)
        {
            var full = Pricing.PricePerHour(request.Resources, PriceList.Default, certified: false);
            Assert.Equal(spot ? Pricing.Share(full, 400_000) : full, placed.PricePerHour);
            _reservations.Add((id, spot));
        }
    }

    /// <summary>The node goes silent and grid time passes until it is declared down; its reservations move off it or wait.</summary>
    private async Task LoseAsync(long node)
    {
        _lost.Add(node);
        var due = _lastBeat[node] + DeclaredDownAfter;
        await AdvanceAsync(due - Now);
        await Poll.UntilAsync(async () => (await grid.Grains.GetGrain<INodeGrain>(node).GetAsync())!.Status == NodeStatus.Down, TimeSpan.FromSeconds(20), $"node {node} declared down");
        foreach (var (id, _) in _reservations)
        {
            await Poll.UntilAsync(async () => await Info(id) is var info && (info.NodeId != node || info.State is not ReservationState.Active and not ReservationState.Migrating),
                TimeSpan.FromSeconds(20), $"reservation {id} off lost node {node}");
        }

        Count("node lost");
    }

    private async Task AdvanceAsync(TimeSpan by)
    {
        var target = Now + by;
        while (Now < target)
        {
            grid.Clock.Advance(Now + Stride < target ? Stride : target - Now);
            foreach (var node in _nodes.Where(n => !_lost.Contains(n)))
            {
                await grid.BeatAsync(node);
                _lastBeat[node] = Now;
            }
        }
    }

    /// <summary>No node is overbooked; no reservation is held on two nodes that are up; a cancelled one nowhere.</summary>
    private async Task CheckHoldingsAsync()
    {
        var holders = new Dictionary<long, long>();
        foreach (var node in _nodes)
        {
            var info = (await grid.Grains.GetGrain<INodeGrain>(node).GetAsync())!;
            Assert.True(info.Free.Cru >= 0 && info.Free.Mru >= 0, $"Node {node} is overbooked: {info.Used} of {info.Total}.");
            if (_lost.Contains(node))
            {
                continue;
            }

            foreach (var allocation in info.Allocations)
            {
                Assert.True(holders.TryAdd(allocation.ReservationId, node),
                    $"Reservation {allocation.ReservationId} is held on nodes {holders.GetValueOrDefault(allocation.ReservationId)} and {node}.");
            }
        }

        foreach (var (id, _) in _reservations)
        {
            var info = await Info(id);
            Count(info.State.ToString());
            Assert.False(info.State == ReservationState.Cancelled && holders.ContainsKey(id), $"Cancelled reservation {id} is still held.");
        }
    }

    /// <summary>Every reservation's bills: exactly the seconds its events say it was served, at its price, each bill in the ledger once.</summary>
    private async Task CheckBillsAsync()
    {
        var entries = await ledger.ReadAsync(1, int.MaxValue);
        foreach (var entry in entries.Where(e => e.Kind == LedgerKinds.Bill))
        {
            Assert.Equal(0, entry.Postings.Sum(p => p.Amount));
        }

        foreach (var (id, spot) in _reservations)
        {
            var info = await Info(id);
            var served = Served(await grid.Grains.GetGrain<IReservationGrain>(id).GetEventsAsync());
            var bills = await grid.Grains.GetGrain<IReservationGrain>(id).GetBillsAsync();
            Assert.Equal(bills.Length, entries.Count(e => e.Kind == LedgerKinds.Bill && e.Subject == BillingEvents.Reservation(id)));
            var lines = bills.SelectMany(b => b.Lines).GroupBy(l => l.NodeId).ToDictionary(g => g.Key, g => g.Sum(l => l.Seconds));
            Assert.True(served.Where(s => s.Value > 0).OrderBy(s => s.Key).SequenceEqual(lines.Where(l => l.Value > 0).OrderBy(l => l.Key)),
                $"Reservation {id}{(spot ? " (spot)" : "")}: served {Describe(served)}, billed {Describe(lines)}.");
            Assert.All(bills.SelectMany(b => b.Lines), line => Assert.Equal(Pricing.Cost(info.PricePerHour, line.Seconds), line.Amount));
            Count(served.Values.Sum() > 0 ? "billed" : "never served");
        }
    }

    /// <summary>Seconds served per node, from the events: a node lost ends its service at its last heartbeat.</summary>
    private Dictionary<long, long> Served(IEnumerable<ReservationEvent> events)
    {
        var served = new Dictionary<long, long>();
        (long Node, DateTimeOffset From)? open = null;
        void Close(DateTimeOffset at)
        {
            if (open is { } o)
            {
                var end = _lost.Contains(o.Node) && _lastBeat[o.Node] < at ? _lastBeat[o.Node] : at;
                served[o.Node] = served.GetValueOrDefault(o.Node) + Math.Max(0, (long)(end - o.From).TotalSeconds);
                open = null;
            }
        }

        foreach (var e in events)
        {
            switch (e.Kind)
            {
                case "placed" or "placed-again":
                    open = (e.NodeId!.Value, e.At);
                    break;
                case "moved":
                    Close(e.At);
                    open = (e.NodeId!.Value, e.At);
                    break;
                case "preempted" or "unschedulable" or "cancelled":
                    Close(e.At);
                    break;
            }
        }

        return served;
    }

    private static string Describe(Dictionary<long, long> seconds) => string.Join(", ", seconds.Select(s => $"node {s.Key}: {s.Value} s"));

    private async Task<ReservationInfo> Info(long id) => (await grid.Grains.GetGrain<IReservationGrain>(id).GetAsync())!;

    private static void Count(string what) => Seen.AddOrUpdate(what, 1, (_, n) => n + 1);
}
