using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Grid.Billing;
using Grid.Grains;
using Grid.Telemetry;

namespace Grid.Scheduling;

/// <summary>
/// Where a reservation landed, and what it costs there per hour (minor units); <paramref name="OnRentedNode"/>: the node
/// is rented by the reservation's own twin, as the node answered (its rent pays for it, the meter stays stopped).
/// </summary>
public sealed record Placement(long NodeId, long FarmId, ImmutableArray<FarmIp> PublicIps, long PricePerHour = 0, long FarmerTwinId = 0, bool OnRentedNode = false)
{
    /// <summary>The node's GPUs the reservation holds there.</summary>
    public ImmutableArray<string> GpuIds { get; init; } = [];

    /// <summary>What those GPUs cost per hour (<c>Grid:Billing:GpuPrice</c> each), billed on a line of their own.</summary>
    public long GpuPricePerHour { get; init; }
}

/// <summary>A new reservation (epoch 1) of a placement batch, with its own span (a create is one trace).</summary>
public sealed record BatchItem(long ReservationId, ReservationRequest Request, Activity? Span);

/// <summary>One item of a placement batch: placed, or why nothing fits, or the failure of its node's call.</summary>
public sealed record BatchPlacement(Placement? Placement, PlacementReport? Report, Exception? Failure);

/// <summary>
/// Optimistic placement: filter and score candidates from this silo's <see cref="CapacityView"/>, then ask
/// the best node grain to allocate; on a refusal (the view was stale) try the next. No global lock and no
/// scheduler grain on the hot path: the node grain's single-threaded ledger is the only arbiter.
/// </summary>
public sealed class ReservationScheduler(IGrainFactory grains, CapacityView view, GridClock clock, GridMetrics metrics, PriceBook prices, Preemptor preemptor)
{
    /// <summary>Bound on allocation attempts per placement, so a storm of refusals cannot spin forever.</summary>
    private const int MaxAttempts = 64;

    /// <summary>
    /// Passes made again when a pass found nothing but a node fits by the time the answer is made: the view or the
    /// time moved in between (a node's rejoin delay ended, its summary arrived), and it must not be reported "contended".
    /// </summary>
    private const int MaxRechecks = 2;

    /// <summary>Candidates kept per selection pass: enough for a few refusals without sorting every node.</summary>
    private const int Shortlist = 8;

    /// <summary>
    /// A pass stops once this many nodes passed the filters (like Kubernetes' percentage of nodes to score):
    /// placement cost stays flat as the grid grows, at the price of choosing the best of a large sample.
    /// </summary>
    private const int EnoughFeasible = 128;

    // GetGrain resolves the interface type by reflection under a lock on every call: node references are reused.
    private readonly ConcurrentDictionary<long, INodeGrain> _nodes = new();

    public async Task<(Placement? Placement, PlacementReport? Report)> PlaceAsync(
        long reservationId,
        long epoch,
        ReservationRequest request,
        ImmutableArray<WorkloadAssignment> workloads,
        IReadOnlySet<long>? excluded = null)
    {
        using var activity = GridTelemetry.Source.StartActivity("grid.place");
        activity?.SetTag("grid.reservation.id", reservationId);
        activity?.SetTag("grid.reservation.epoch", epoch);
        return await PlaceCoreAsync(reservationId, epoch, request, workloads, excluded, activity);
    }

    /// <summary>One placement, tagged on <paramref name="activity"/> (its span).</summary>
    private async Task<(Placement? Placement, PlacementReport? Report)> PlaceCoreAsync(
        long reservationId,
        long epoch,
        ReservationRequest request,
        ImmutableArray<WorkloadAssignment> workloads,
        IReadOnlySet<long>? excluded,
        Activity? activity)
    {
        Activity.Current = activity ?? Activity.Current;
        var started = Stopwatch.GetTimestamp();
        var allocation = new AllocationRequest(
            reservationId, epoch, request.TwinId, request.Resources, request.Constraints.AntiAffinityGroup, workloads)
        {
            Priority = request.Priority,
            Spot = request.Spot,
            GpuModels = request.Constraints.GpuModels,
        };

        // Nodes that refused, with the reason they gave: they are skipped in later passes and named in a 409.
        var refused = new Dictionary<long, string>();
        var shortFarms = new HashSet<long>();
        var rechecks = 0;
        while (refused.Count < MaxAttempts)
        {
            var candidates = await ShortlistAsync(request, excluded, refused, shortFarms);
            if (candidates.Count == 0)
            {
                if (rechecks++ < MaxRechecks && FitsUntried(request, excluded, refused, shortFarms))
                {
                    continue;
                }

                break;
            }

            foreach (var candidate in candidates)
            {
                var price = prices.PriceOf(candidate, request);
                var result = await Node(candidate.NodeId).TryAllocateAsync(allocation with { PricePerHour = price });
                if (result.Summary is { } summary)
                {
                    view.Update(summary);
                }

                if (result.Outcome == AllocationOutcome.Allocated)
                {
                    metrics.Placed(Stopwatch.GetElapsedTime(started), candidate.NodeId, epoch);
                    activity?.SetTag("grid.node.id", candidate.NodeId);
                    return (new Placement(candidate.NodeId, candidate.FarmId, result.PublicIps, price, candidate.TwinId,
                        RentFilter.RentedBy(result.Summary, request.TwinId))
                        { GpuIds = result.GpuIds, GpuPricePerHour = prices.GpuPriceOf(request) }, null);
                }

                refused[candidate.NodeId] = Reason(result);
                if (result.Outcome == AllocationOutcome.InsufficientIpv4)
                {
                    shortFarms.Add(candidate.FarmId);
                }
            }
        }

        // A new reservation that fits nowhere may make room (never a move: a preempted reservation does not preempt).
        var heldBack = (string?)null;
        if (epoch == 1 && excluded is null)
        {
            var preemption = await preemptor.TryPlaceAsync(reservationId, request);
            if (preemption.Placement is { } placed)
            {
                metrics.Placed(Stopwatch.GetElapsedTime(started), placed.NodeId, epoch);
                activity?.SetTag("grid.node.id", placed.NodeId);
                return (placed, null);
            }

            heldBack = preemption.HeldBack;
        }

        var report = Report(request, excluded, refused, shortFarms, heldBack);
        metrics.Unplaceable(Stopwatch.GetElapsedTime(started), report.Rejections.IsEmpty ? "no-nodes" : report.Rejections.MaxBy(r => r.Value).Key);
        activity?.SetStatus(ActivityStatusCode.Error, "unplaceable");
        return (null, report);
    }

    /// <summary>
    /// New reservations (epoch 1) placed together: each is matched to a node from the view as if the earlier
    /// ones of the batch were already there (so a batch fills a node rather than all asking the same free
    /// space), then each chosen node is asked once for all of its share. What a node refuses, and what nothing
    /// in the view fits, goes through <see cref="PlaceAsync"/> one by one (its retries and its report).
    /// Each item ends with a placement, a report, or the exception of its node's call.
    /// </summary>
    public async Task<BatchPlacement[]> PlaceManyAsync(IReadOnlyList<BatchItem> items)
    {
        var started = Stopwatch.GetTimestamp();
        var results = new BatchPlacement[items.Count];
        var tentative = new Dictionary<long, Capacity>();
        var byNode = new Dictionary<long, List<int>>();
        var chosen = new NodeSummary[items.Count];
        var oneByOne = new List<int>();
        var shortlists = new Dictionary<(Capacity, PlacementConstraints, PlacementStrategy), List<NodeSummary>>();
        var now = clock.UtcNow;
        for (var i = 0; i < items.Count; i++)
        {
            var request = items[i].Request;
            var shape = ShapeOf(request);
            var best = shape is { } key && shortlists.TryGetValue(key, out var shared) ? BestOf(shared, request, tentative, now) : null;
            if (best is null)
            {
                var shortlist = await ShortlistAsync(request, null, [], [], tentative);
                if (shape is { } newKey)
                {
                    shortlists[newKey] = shortlist;
                }

                best = shortlist.FirstOrDefault();
            }

            if (best is null)
            {
                oneByOne.Add(i);
                continue;
            }

            chosen[i] = best;
            tentative[best.NodeId] = tentative.GetValueOrDefault(best.NodeId, Capacity.Zero) + request.Resources;
            if (!byNode.TryGetValue(best.NodeId, out var share))
            {
                byNode[best.NodeId] = share = [];
            }

            share.Add(i);
        }

        await Task.WhenAll(byNode.Select(async pair =>
        {
            var share = pair.Value;
            var node = chosen[share[0]];
            var requests = share.Select(i => new AllocationRequest(items[i].ReservationId, 1, items[i].Request.TwinId,
                items[i].Request.Resources, items[i].Request.Constraints.AntiAffinityGroup, [])
            {
                Priority = items[i].Request.Priority,
                Spot = items[i].Request.Spot,
                PricePerHour = prices.PriceOf(node, items[i].Request),
                GpuModels = items[i].Request.Constraints.GpuModels,
            }).ToImmutableArray();
            ImmutableArray<AllocationResult> answers;
            try
            {
                // The node's call is in the trace of the first placement it carries.
                Activity.Current = items[share[0]].Span;
                answers = await Node(pair.Key).TryAllocateManyAsync(requests);
            }
            catch (Exception exception)
            {
                // Unknown whether the node's write landed: not acknowledged; its orphan check settles it.
                foreach (var i in share)
                {
                    results[i] = new BatchPlacement(null, null, exception);
                }

                return;
            }

            if (answers.Length > 0 && answers[^1].Summary is { } summary)
            {
                view.Update(summary);
            }

            for (var k = 0; k < share.Count; k++)
            {
                var i = share[k];
                if (answers[k].Outcome != AllocationOutcome.Allocated)
                {
                    lock (oneByOne)
                    {
                        oneByOne.Add(i);
                    }

                    continue;
                }

                metrics.Placed(Stopwatch.GetElapsedTime(started), node.NodeId, 1);
                items[i].Span?.SetTag("grid.node.id", node.NodeId);
                results[i] = new BatchPlacement(new Placement(node.NodeId, node.FarmId, answers[k].PublicIps,
                    requests[k].PricePerHour, node.TwinId, RentFilter.RentedBy(answers[k].Summary, items[i].Request.TwinId))
                    { GpuIds = answers[k].GpuIds, GpuPricePerHour = prices.GpuPriceOf(items[i].Request) }, null, null);
            }
        }));

        await Task.WhenAll(oneByOne.Select(async i =>
        {
            try
            {
                var (placement, report) = await PlaceCoreAsync(items[i].ReservationId, 1, items[i].Request, [], null, items[i].Span);
                results[i] = new BatchPlacement(placement, report, null);
            }
            catch (Exception exception)
            {
                results[i] = new BatchPlacement(null, null, exception);
            }
        }));

        return results;
    }

    /// <summary>The node a placement would try first now, without allocating anything (for quotes).</summary>
    public async Task<(NodeSummary? Node, PlacementReport? Report)> ChooseAsync(ReservationRequest request)
    {
        var shortFarms = new HashSet<long>();
        for (var rechecks = 0; ; rechecks++)
        {
            if ((await ShortlistAsync(request, null, [], shortFarms)).FirstOrDefault() is { } best)
            {
                return (best, null);
            }

            if (rechecks == MaxRechecks || !FitsUntried(request, null, [], shortFarms))
            {
                return (null, Report(request, null, [], shortFarms));
            }
        }
    }

    /// <summary>
    /// True when a node no pass refused fits now: the view or the time moved since the last pass (see
    /// <see cref="MaxRechecks"/>). Asked only when a pass found nothing.
    /// </summary>
    private bool FitsUntried(ReservationRequest request, IReadOnlySet<long>? excluded, Dictionary<long, string> refused, HashSet<long> shortFarms)
    {
        var now = clock.UtcNow;
        return Candidates(request).Any(node => Passes(node, request, now, excluded, refused, shortFarms));
    }

    /// <summary>A pass's filter: <paramref name="node"/> did not refuse, its farm has the addresses asked, and it fits.</summary>
    private bool Passes(
        NodeSummary node, ReservationRequest request, DateTimeOffset now, IReadOnlySet<long>? excluded, Dictionary<long, string> refused, HashSet<long> shortFarms) =>
        !refused.ContainsKey(node.NodeId) && !shortFarms.Contains(node.FarmId) && Reject(node, request, now, excluded) is null;

    private async Task<List<NodeSummary>> ShortlistAsync(
        ReservationRequest request, IReadOnlySet<long>? excluded, Dictionary<long, string> refused, HashSet<long> shortFarms,
        Dictionary<long, Capacity>? tentative = null)
    {
        var now = clock.UtcNow;
        var best = new ShortlistRanking(Shortlist);
        var feasible = 0;
        foreach (var seen in Candidates(request))
        {
            var node = Counting(seen, tentative);
            if (!Passes(node, request, now, excluded, refused, shortFarms))
            {
                continue;
            }

            // Kept as the view has it: a batch re-scores its shortlist with what it chose since (BestOf).
            best.Insert(seen, PlacementFilter.Proximity(node, request.Constraints), ScoreOf(node, request));

            // The nearest node is wanted, not the best of a sample: a near request looks at every node within reach.
            if (++feasible >= EnoughFeasible && request.Constraints.Near is null)
            {
                break;
            }
        }

        if (request.Resources.Ipv4 > 0 && best.Count > 0)
        {
            var farms = best.Nodes.Select(n => n.FarmId).Distinct().ToList();
            var free = await Task.WhenAll(farms.Select(f => grains.GetGrain<IFarmGrain>(f).FreeIpCountAsync()));
            foreach (var farm in farms.Where((_, i) => free[i] < request.Resources.Ipv4))
            {
                shortFarms.Add(farm);
            }

            if (best.RemoveAll(n => shortFarms.Contains(n.FarmId)) > 0 && best.Count == 0)
            {
                return await ShortlistAsync(request, excluded, refused, shortFarms, tentative);
            }
        }

        return [.. best.Nodes];
    }

    private double ScoreOf(NodeSummary node, ReservationRequest request) => (request.Strategy == PlacementStrategy.Cheapest
        ? Math.Round(PlacementFilter.Score(node, request.Resources, PlacementStrategy.Binpack), 6) - prices.PriceOf(node, request)
        : Math.Round(PlacementFilter.Score(node, request.Resources, request.Strategy), 6)) - PlacementFilter.Penalty(node);

    /// <summary>
    /// The best node of a shortlist made for an earlier request of the same shape in this batch, counting what
    /// the batch already chose (a shortlist is a sample of the view; re-scoring it is as good as a new sample).
    /// </summary>
    private NodeSummary? BestOf(List<NodeSummary> shortlist, ReservationRequest request, Dictionary<long, Capacity> tentative, DateTimeOffset now)
    {
        NodeSummary? best = null;
        var bestRank = (double.NegativeInfinity, double.NegativeInfinity);
        foreach (var seen in shortlist)
        {
            var node = Counting(seen, tentative);
            if (Reject(node, request, now, null) is null
                && (PlacementFilter.Proximity(node, request.Constraints), ScoreOf(node, request)) is var rank && rank.CompareTo(bestRank) > 0)
            {
                (best, bestRank) = (seen, rank);
            }
        }

        return best;
    }

    /// <summary>A node as the view has it, with what this batch already chose for it counted as used.</summary>
    private static NodeSummary Counting(NodeSummary node, Dictionary<long, Capacity>? tentative) =>
        tentative is { Count: > 0 } && tentative.TryGetValue(node.NodeId, out var taken)
            ? node with { Free = node.Free - taken, Used = node.Used + taken }
            : node;

    /// <summary>Requests that may share a shortlist: same resources, constraints and strategy, no per-twin rule, no addresses.</summary>
    private static (Capacity, PlacementConstraints, PlacementStrategy)? ShapeOf(ReservationRequest request) =>
        request.Constraints.AntiAffinityGroup is null && request.Resources.Ipv4 == 0
            ? (request.Resources, request.Constraints, request.Strategy)
            : null;

    private INodeGrain Node(long nodeId) =>
        _nodes.TryGetValue(nodeId, out var node) ? node : _nodes.GetOrAdd(nodeId, grains.GetGrain<INodeGrain>(nodeId));

    /// <summary>A pinned reservation looks at one node; the others walk the view from a random start.</summary>
    private IEnumerable<NodeSummary> Candidates(ReservationRequest request) =>
        request.Constraints.NodeId is { } pinned
            ? view.TryGet(pinned, out var node) ? [node] : []
            : view.FromRandomStart();

    /// <summary>Why each known node cannot take the request: its refusal if it gave one, else the filter's reason.</summary>
    private PlacementReport Report(
        ReservationRequest request, IReadOnlySet<long>? excluded, Dictionary<long, string> refused, HashSet<long> shortFarms, string? heldBack = null)
    {
        var now = clock.UtcNow;
        var reasons = new List<string>();
        foreach (var node in view.Nodes)
        {
            reasons.Add(refused.TryGetValue(node.NodeId, out var reason)
                ? reason
                : Reject(node, request, now, excluded)
                    ?? (shortFarms.Contains(node.FarmId) ? PlacementFilter.InsufficientIpv4 : PlacementFilter.Busy));
        }

        // The brake is named beside the nodes' reasons (it held back a plan, not a node).
        var total = reasons.Count;
        if (heldBack is not null)
        {
            reasons.Add(heldBack);
        }

        var anywhere = request with { Constraints = request.Constraints with { Near = null } };
        return NearReport.With(PlacementFilter.Report(total, reasons), request,
            view.Nodes.Where(node => request.Constraints.Near is not null && Reject(node, anywhere, now, excluded) is null));
    }

    private string? Reject(NodeSummary node, ReservationRequest request, DateTimeOffset now, IReadOnlySet<long>? excluded) =>
        PlacementFilter.Reject(node, request, now, excluded, prices);

    private static string Reason(AllocationResult result) => result.Outcome switch
    {
        AllocationOutcome.InsufficientCapacity => PlacementFilter.Insufficient(result.Shortfall ?? CapacityUnit.Mru),
        AllocationOutcome.InsufficientIpv4 => PlacementFilter.InsufficientIpv4,
        AllocationOutcome.AntiAffinity => PlacementFilter.AntiAffinityConflict,
        AllocationOutcome.Rented => RentFilter.Rented,
        _ when result.Summary is { Draining: true } => PlacementFilter.Draining,
        _ => PlacementFilter.Down,
    };
}
