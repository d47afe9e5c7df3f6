using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Grid.Billing;
using Grid.Grains;
using Grid.Releases;
using Grid.Telemetry;
using Microsoft.Extensions.Options;

namespace Grid.Scheduling;

/// <summary>What a preemption did: the placement it made, or the brake that held it back (both null: no node can be made to fit).</summary>
public sealed record PreemptionOutcome(Placement? Placement, string? HeldBack);

/// <summary>
/// The scheduler's last resort for a new reservation that fits nowhere: from this silo's <see cref="CapacityView"/>, the
/// nodes that could take it if some of what they hold gave way (their summaries say the lowest priority and whether
/// spot capacity is held), asked for their allocations; <see cref="PreemptionPlanner"/> picks the node and the victims;
/// the cluster-wide brake (<see cref="IPreemptionBrakeGrain"/>) must allow them; the node then releases them and
/// allocates the newcomer in one step (<see cref="INodeGrain.PreemptAsync"/>), and tells the victims.
/// </summary>
public sealed class Preemptor(
    IGrainFactory grains, CapacityView view, GridClock clock, PriceBook prices, IOptions<GridSchedulingOptions> options, GridMetrics metrics,
    ClusterReleases releases)
{
    /// <summary>Plans tried per placement: a node that changed under a plan is skipped and the next best planned.</summary>
    private const int MaxTries = 3;

    private readonly ConcurrentDictionary<long, INodeGrain> _nodes = new();

    /// <summary>Places <paramref name="request"/> by preemption, if some node can be made to fit and the brake allows.</summary>
    public async Task<PreemptionOutcome> TryPlaceAsync(long reservationId, ReservationRequest request)
    {
        // Addresses are the farm's (see NodeGrain.PreemptAsync); pinned-elsewhere filters etc. come from the view.
        if (request.Resources.Ipv4 > 0)
        {
            return new(null, null);
        }

        // Preemption came with INodeGrain version 2: while a silo of 0.3.0 is in the cluster a node grain there would
        // not know PreemptAsync, so nothing is preempted until the rolling upgrade has passed every silo.
        if (!releases.EverySiloSupports(typeof(INodeGrain), 2))
        {
            return new(null, null);
        }

        var skipped = new HashSet<long>();
        var spared = new HashSet<long>();
        for (var attempt = 0; attempt < MaxTries; attempt++)
        {
            var started = Stopwatch.GetTimestamp();
            var candidates = Candidates(request, skipped);
            if (candidates.Count == 0)
            {
                return new(null, null);
            }

            var infos = await Task.WhenAll(candidates.Select(c => Node(c.NodeId).GetAsync()));
            var plan = PreemptionPlanner.Plan(reservationId, request, infos.OfType<NodeInfo>()
                .Select(info => new PreemptionCandidate(info.NodeId, info.Free, [.. info.Allocations.Where(a => !spared.Contains(a.ReservationId))])));
            if (plan is null)
            {
                metrics.PreemptionDecided(Stopwatch.GetElapsedTime(started));
                return new(null, null);
            }

            // Only what runs may be preempted: a reservation in grace (only a payment or the cancel ends it) is spared,
            // and so is one that is no longer where the node says; the plan is then made again without them.
            var victims = await Task.WhenAll(plan.Victims.Select(v => grains.GetGrain<IReservationGrain>(v.ReservationId).GetAsync()));
            metrics.PreemptionDecided(Stopwatch.GetElapsedTime(started));
            var unfit = plan.Victims.Where((v, i) => victims[i] is not { State: ReservationState.Active or ReservationState.Migrating }).ToList();
            if (unfit.Count > 0)
            {
                spared.UnionWith(unfit.Select(v => v.ReservationId));
                continue;
            }

            if (plan.Victims.Length > 0 && !await grains.GetGrain<IPreemptionBrakeGrain>(0).TryTakeAsync(plan.Victims.Length))
            {
                return new(null, PlacementFilter.PreemptionBrake);
            }

            var node = candidates.First(c => c.NodeId == plan.NodeId);
            var price = prices.PriceOf(node, request);
            var allocation = new AllocationRequest(reservationId, 1, request.TwinId, request.Resources, request.Constraints.AntiAffinityGroup, [])
            {
                Priority = request.Priority,
                Spot = request.Spot,
                PricePerHour = price,
                GpuModels = request.Constraints.GpuModels,
            };
            var result = await Node(plan.NodeId).PreemptAsync(allocation, [.. plan.Victims.Select(v => new HeldPlacement(v.ReservationId, v.Epoch))],
                options.Value.PreemptionNotice);
            if (result.Summary is { } summary)
            {
                view.Update(summary);
            }

            if (result.Outcome == AllocationOutcome.Allocated)
            {
                metrics.Preempted(plan.Victims.Length);
                return new(new Placement(node.NodeId, node.FarmId, result.PublicIps, price, node.TwinId)
                    { GpuIds = result.GpuIds, GpuPricePerHour = prices.GpuPriceOf(request) }, null);
            }

            skipped.Add(plan.NodeId);
        }

        return new(null, null);
    }

    /// <summary>
    /// Up to <see cref="GridSchedulingOptions.PreemptionCandidates"/> nodes that pass every filter but free capacity and
    /// hold something <paramref name="request"/> may preempt, from a random start (so concurrent preemptions spread).
    /// </summary>
    private List<NodeSummary> Candidates(ReservationRequest request, HashSet<long> skipped)
    {
        var now = clock.UtcNow;
        var found = new List<NodeSummary>();
        var nodes = request.Constraints.NodeId is { } pinned ? (view.TryGet(pinned, out var one) ? [one] : []) : view.FromRandomStart();
        foreach (var node in nodes)
        {
            if (skipped.Contains(node.NodeId)
                || !(ReservationPriority.MayPreempt(request.Priority, request.Spot, node.LowestPriority, false)
                    || (node.HasSpot && !request.Spot))
                || PlacementFilter.Reject(node with { Free = node.Free + node.Used }, request, now, null, prices) is not null)
            {
                continue;
            }

            found.Add(node);
            if (found.Count >= options.Value.PreemptionCandidates)
            {
                break;
            }
        }

        return found;
    }

    private INodeGrain Node(long nodeId) =>
        _nodes.TryGetValue(nodeId, out var node) ? node : _nodes.GetOrAdd(nodeId, grains.GetGrain<INodeGrain>(nodeId));
}
