using Grid.Billing;
using Grid.Ledger;
using Grid.Scheduling;
using Grid.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Grid.Grains.Tests;

/// <summary>
/// Runs one random billing sequence on its own farms, nodes and twins (a country of its own keeps placements on
/// them) and keeps the test's own model of what was served: a reservation is served from the moment it is active
/// on a node until it leaves that state or node, except that a node declared down stopped serving at its last
/// heartbeat, and nothing is served on a node between its down declaration and its next heartbeat. The grid time
/// stands still while the effects of a step settle, so each change happens at a time the model knows.
/// Steps: Place(tenant, size in CU, pinned node or &lt; 0), Drain(node) = move off and undrain, Silence(node) = stop
/// its heartbeats (declared down 91 s after its last one if time passes), Revive(node), Cancel(index),
/// Advance(seconds), Tick (every billing shard), Deposit(tenant, ×10,000), Withdraw(farmer, ×1,000).
/// </summary>
internal sealed partial class BillingSequence(GridCluster grid, MemoryLedgerStore ledger)
{
    private const long Gib = 1L << 30;
    private const int MaxPlaced = 8;
    private static readonly TimeSpan Stride = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan DeclaredDownAfter = TimeSpan.FromSeconds(91);   // HeartbeatTimeout 90 s, strictly older
    private static int _sequences;

    public static BillingSequenceStats Stats { get; } = new();

    private readonly string _country = $"P{Interlocked.Increment(ref _sequences)}";
    private readonly long[] _tenants = [GridCluster.NewId(), GridCluster.NewId()];
    private readonly long[] _farmers = [GridCluster.NewId(), GridCluster.NewId()];
    private readonly Dictionary<long, long> _ownerOfFarm = [];
    private readonly List<NodeModel> _nodes = [];
    private readonly List<ReservationModel> _reservations = [];
    private int _keys;

    private DateTimeOffset Now => grid.Clock.GetUtcNow();

    private CapacityView View => ((InProcessSiloHandle)grid.Cluster.Primary!).SiloHost!.Services.GetRequiredService<CapacityView>();

    public async Task<bool> RunAsync(IReadOnlyList<BillingOp> ops)
    {
        await SetUpAsync();
        foreach (var op in ops)
        {
            await ApplyAsync(op);
        }

        foreach (var reservation in _reservations.Where(r => r.State != ReservationState.Cancelled))
        {
            await grid.Grains.GetGrain<IReservationGrain>(reservation.Id).CancelAsync();
            await SyncAsync(BillingOpKind.Cancel);
        }

        await CheckAsync();
        return true;
    }

    private async Task SetUpAsync()
    {
        for (var f = 0; f < 2; f++)
        {
            var farmId = await grid.CreateFarmAsync(_farmers[f]);
            _ownerOfFarm[farmId] = _farmers[f];
            if (f == 1)
            {
                // A farm of its own prices: a move between the farms re-prices the reservation.
                await grid.Grains.GetGrain<IPriceListGrain>(0).SetAsync(farmId, _farmers[f], new PriceList(150_000, 50_000, 40_000));
            }

            for (var n = 0; n < 2; n++)
            {
                var id = await grid.RegisterNodeAsync(farmId, _farmers[f], new Capacity(32, 128 * Gib, 0, 0), _country);
                _nodes.Add(new NodeModel(id) { LastBeat = Now });
            }
        }

        foreach (var node in _nodes)
        {
            await UntilInViewAsync(node.Id, draining: false);
        }

        await DepositAsync(0, 40_000);   // a little over two cycles of one CU: grace comes soon
    }

    private async Task ApplyAsync(BillingOp op)
    {
        switch (op.Kind)
        {
            case BillingOpKind.Place:
                await PlaceAsync(op.A, op.B, op.C);
                break;
            case BillingOpKind.Drain:
                await DrainAsync(_nodes[op.A]);
                break;
            case BillingOpKind.Silence when _nodes[op.A] is { Silent: false } node && _nodes.Any(n => n != node && !n.Silent):
                // Its reservations must have somewhere to go when it is declared down.
                node.Silent = true;
                break;
            case BillingOpKind.Revive when _nodes[op.A] is { Silent: true } node:
                await ReviveAsync(node);
                break;
            case BillingOpKind.Cancel when _reservations.Where(r => r.State != ReservationState.Cancelled).ToList() is { Count: > 0 } open:
                await grid.Grains.GetGrain<IReservationGrain>(open[op.A % open.Count].Id).CancelAsync();
                await SyncAsync(op.Kind);
                break;
            case BillingOpKind.Advance:
                await AdvanceAsync(TimeSpan.FromSeconds(op.A));
                break;
            case BillingOpKind.Tick:
                await BillingSteps.TickAsync(grid);
                await SyncAsync(op.Kind);
                break;
            case BillingOpKind.Deposit:
                await DepositAsync(op.A, op.B * 10_000L);
                await SyncAsync(op.Kind);
                break;
            case BillingOpKind.Withdraw:
                try
                {
                    await grid.Grains.GetGrain<ITwinBillingGrain>(_farmers[op.A]).WithdrawAsync(op.B * 1_000L, $"w{++_keys}");
                }
                catch (GridRequestException refused) when (refused.Status == 409)
                {
                    // More than the farmer has: refused, nothing changed (the balances check says so).
                }

                break;
        }
    }

    private async Task PlaceAsync(int tenant, int size, int pin)
    {
        if (_reservations.Count >= MaxPlaced)
        {
            return;
        }

        var id = GridCluster.NewId();
        var constraints = PlacementConstraints.None with { Country = _country, NodeId = pin >= 0 ? _nodes[pin].Id : null };
        var request = new ReservationRequest(_tenants[tenant], new Capacity(2 * size, 4 * Gib * size, 0, 0), constraints, PlacementStrategy.Binpack);
        try
        {
            if ((await grid.Grains.GetGrain<IReservationGrain>(id).CreateAsync(request)).Reservation is null)
            {
                return;   // the pinned node is down: nothing placed
            }
        }
        catch (GridRequestException refused) when (refused.Status == 402)
        {
            Assert.Contains("missing", refused.Message, StringComparison.Ordinal);
            return;
        }

        _reservations.Add(new ReservationModel(id, _tenants[tenant], pin >= 0));
        await SyncAsync(BillingOpKind.Place);
    }

    private async Task DrainAsync(NodeModel node)
    {
        if (node.Silent || !_nodes.Any(n => n != node && !n.Silent))
        {
            return;
        }

        var node1 = grid.Grains.GetGrain<INodeGrain>(node.Id);
        await node1.SetDrainingAsync(true, 4);
        foreach (var reservation in _reservations.Where(r => r.Node == node.Id && !r.Pinned && r.State != ReservationState.Cancelled))
        {
            await Poll.UntilAsync(async () => (await InfoAsync(reservation)).NodeId != node.Id, TimeSpan.FromSeconds(20), $"reservation {reservation.Id} left draining node {node.Id}");
        }

        await SyncAsync(BillingOpKind.Drain);
        await node1.SetDrainingAsync(false, 1);
        await UntilInViewAsync(node.Id, draining: false);
    }

    private async Task ReviveAsync(NodeModel node)
    {
        await grid.BeatAsync(node.Id);
        node.Silent = false;
        node.LastBeat = Now;
        if (node.DownSince is { } since)
        {
            node.DownWindows.Add((since, Now));
            node.DownSince = null;
            foreach (var reservation in _reservations.Where(r => r.Node == node.Id && r.State == ReservationState.Lost))
            {
                await Poll.UntilAsync(async () => (await InfoAsync(reservation)).State != ReservationState.Lost, TimeSpan.FromSeconds(20), $"reservation {reservation.Id} served by node {node.Id} again");
            }

            await UntilInViewAsync(node.Id, draining: false);
        }

        await SyncAsync(BillingOpKind.Revive);
    }

    /// <summary>Moves grid time in strides, heartbeating the nodes that are not silent, and stops where a silent node is declared down.</summary>
    private async Task AdvanceAsync(TimeSpan by)
    {
        var target = Now + by;
        while (Now < target)
        {
            var next = Now + Stride < target ? Now + Stride : target;
            foreach (var silent in _nodes.Where(n => n.Silent && n.DownSince is null))
            {
                var due = silent.LastBeat + DeclaredDownAfter;
                next = due < next ? due : next;
            }

            grid.Clock.Advance(next - Now);
            foreach (var node in _nodes.Where(n => !n.Silent))
            {
                await grid.BeatAsync(node.Id);
                node.LastBeat = Now;
            }

            if (_nodes.Where(n => n.Silent && n.DownSince is null && n.LastBeat + DeclaredDownAfter == Now).ToList() is { Count: > 0 } declared)
            {
                await DeclaredDownAsync(declared);
            }
        }
    }

    /// <summary>Waits until the nodes are down and their reservations moved off (or lost with them), then updates the model.</summary>
    private async Task DeclaredDownAsync(List<NodeModel> nodes)
    {
        var ids = nodes.Select(n => n.Id).ToHashSet();
        foreach (var node in nodes)
        {
            await Poll.UntilAsync(async () => (await grid.Grains.GetGrain<INodeGrain>(node.Id).GetAsync())!.Status == NodeStatus.Down, TimeSpan.FromSeconds(20), $"node {node.Id} declared down");
        }

        // Moved off every node declared down now (one may first move to another of them), or lost with its pinned node.
        foreach (var reservation in _reservations.Where(r => r.Node is { } node && ids.Contains(node) && r.State != ReservationState.Cancelled))
        {
            await Poll.UntilAsync(async () => await InfoAsync(reservation) is var info
                && (reservation.Pinned ? info.State is not ReservationState.Active : !ids.Contains(info.NodeId!.Value) && info.State != ReservationState.Unschedulable), TimeSpan.FromSeconds(20),
                $"reservation {reservation.Id} moved off (or lost with) node {reservation.Node}");
        }

        foreach (var node in nodes)
        {
            node.DownSince = Now;
        }

        await SyncAsync(BillingOpKind.Silence, nodes);
    }

    private async Task DepositAsync(int tenant, long amount)
    {
        await grid.Grains.GetGrain<ILedgerGrain>(0).AppendAsync(BillingEvents.Deposit(_tenants[tenant], $"d{++_keys}", amount));
        await grid.Grains.GetGrain<ITwinBillingGrain>(_tenants[tenant]).ResumeAsync();
    }

    /// <summary>
    /// Reads every reservation at the current (standing) grid time and updates the model: service on a node that
    /// was just declared down ends at its last heartbeat; any other end of service ends it now.
    /// </summary>
    private async Task SyncAsync(BillingOpKind step, List<NodeModel>? declaredDown = null)
    {
        var now = Now;
        foreach (var reservation in _reservations.Where(r => r.State != ReservationState.Cancelled))
        {
            var info = await InfoAsync(reservation);
            var serving = info.State is ReservationState.Active or ReservationState.Migrating;
            if (reservation.Open is { } open)
            {
                if (declaredDown?.Find(n => n.Id == open.Node) is { } lost)
                {
                    reservation.Close(lost.LastBeat);
                }
                else if (!serving || info.NodeId != open.Node || info.PricePerHour != open.Price)
                {
                    reservation.Close(now);
                }
            }

            if (serving && reservation.Open is null)
            {
                reservation.Open = new Segment(info.NodeId!.Value, info.PricePerHour, now, now);
            }

            CheckTransition(step, reservation, info.State);
            Stats.Count(reservation.State, info.State, reservation.Node != info.NodeId);
            reservation.State = info.State;
            reservation.Node = info.NodeId;
        }
    }

    /// <summary>Only a billing tick puts a reservation in grace; only a tick or a deposit takes it out; only a node's return ends lost.</summary>
    private static void CheckTransition(BillingOpKind step, ReservationModel reservation, ReservationState now)
    {
        var before = reservation.State;
        var allowed = (before, now) switch
        {
            (ReservationState.Active, ReservationState.Grace) => step == BillingOpKind.Tick,
            (ReservationState.Grace, ReservationState.Active) => step is BillingOpKind.Tick or BillingOpKind.Deposit,
            (ReservationState.Grace, ReservationState.Lost or ReservationState.Unschedulable) => false,
            (ReservationState.Lost, ReservationState.Active) => step == BillingOpKind.Revive,
            _ => true,
        };
        Assert.True(allowed, $"Reservation {reservation.Id} went from {before} to {now} on a {step} step.");
    }

    private async Task<ReservationInfo> InfoAsync(ReservationModel reservation) =>
        (await grid.Grains.GetGrain<IReservationGrain>(reservation.Id).GetAsync())!;

    private Task UntilInViewAsync(long nodeId, bool draining) => Poll.UntilAsync(
        () => Task.FromResult(View.TryGet(nodeId, out var summary) && summary.Status == NodeStatus.Up && summary.Draining == draining), TimeSpan.FromSeconds(20),
        $"the silo's capacity view shows node {nodeId} up");

    private sealed class NodeModel(long id)
    {
        public long Id { get; } = id;

        public bool Silent { get; set; }

        public DateTimeOffset LastBeat { get; set; }

        public DateTimeOffset? DownSince { get; set; }

        /// <summary>From the down declaration to the next heartbeat: nothing is served on the node.</summary>
        public List<(DateTimeOffset From, DateTimeOffset To)> DownWindows { get; } = [];
    }

    private sealed record Segment(long Node, long Price, DateTimeOffset From, DateTimeOffset To);

    private sealed class ReservationModel(long id, long tenant, bool pinned)
    {
        public long Id { get; } = id;

        public long Tenant { get; } = tenant;

        public bool Pinned { get; } = pinned;

        public ReservationState State { get; set; } = ReservationState.Active;

        public long? Node { get; set; }

        public Segment? Open { get; set; }

        public List<Segment> Served { get; } = [];

        public void Close(DateTimeOffset at)
        {
            var open = Open!;
            Served.Add(open with { To = at > open.From ? at : open.From });
            Open = null;
        }
    }
}

/// <summary>How often the sequences reached each transition (shown in the test output, to see the property explores them).</summary>
internal sealed class BillingSequenceStats
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _counts = new();

    public void Count(ReservationState from, ReservationState to, bool moved)
    {
        if (from != to)
        {
            _counts.AddOrUpdate($"{from}->{to}", 1, (_, n) => n + 1);
        }

        if (moved)
        {
            _counts.AddOrUpdate("moved", 1, (_, n) => n + 1);
        }
    }

    public void Add(string what, int n = 1) => _counts.AddOrUpdate(what, n, (_, c) => c + n);

    public override string ToString() => string.Join(", ", _counts.OrderBy(c => c.Key).Select(c => $"{c.Key}: {c.Value}"));
}
