using System.Collections.Immutable;
using System.Diagnostics;
using Grid.Grains;
using Grid.Telemetry;

namespace Grid.Scheduling;

/// <summary>Where a reservation landed.</summary>
public sealed record Placement(long NodeId, long FarmId, ImmutableArray<FarmIp> PublicIps);

/// <summary>
/// Optimistic placement: filter and score candidates from this silo's <see cref="CapacityView"/>, then ask
/// the best node grain to allocate; on a refusal (the view was stale) try the next. No global lock and no
/// scheduler grain on the hot path: the node grain's single-threaded ledger is the only arbiter.
/// </summary>
public sealed class ReservationScheduler(IGrainFactory grains, CapacityView view, GridClock clock, GridMetrics metrics)
{
    /// <summary>Bound on allocation attempts per placement, so a storm of refusals cannot spin forever.</summary>
    private const int MaxAttempts = 64;

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
        var started = Stopwatch.GetTimestamp();

        var rejections = new Dictionary<long, string>();
        var candidates = await SelectCandidatesAsync(request, excluded, rejections);
        var allocation = new AllocationRequest(
            reservationId, epoch, request.TwinId, request.Resources, request.Constraints.AntiAffinityGroup, workloads);

        foreach (var candidate in candidates.Take(MaxAttempts))
        {
            var result = await grains.GetGrain<INodeGrain>(candidate.NodeId).TryAllocateAsync(allocation);
            if (result.Summary is { } summary)
            {
                view.Update(summary);
            }

            if (result.Outcome == AllocationOutcome.Allocated)
            {
                metrics.Placed(Stopwatch.GetElapsedTime(started));
                activity?.SetTag("grid.node.id", candidate.NodeId);
                return (new Placement(candidate.NodeId, candidate.FarmId, result.PublicIps), null);
            }

            rejections[candidate.NodeId] = result.Outcome switch
            {
                AllocationOutcome.InsufficientCapacity => PlacementFilter.Insufficient(result.Shortfall ?? CapacityUnit.Mru),
                AllocationOutcome.InsufficientIpv4 => PlacementFilter.InsufficientIpv4,
                AllocationOutcome.AntiAffinity => PlacementFilter.AntiAffinityConflict,
                _ => PlacementFilter.Down,
            };
        }

        metrics.Unplaceable(Stopwatch.GetElapsedTime(started));
        activity?.SetStatus(ActivityStatusCode.Error, "unplaceable");
        return (null, PlacementFilter.Report(Math.Max(view.Count, rejections.Count), rejections.Values));
    }

    private async Task<List<NodeSummary>> SelectCandidatesAsync(
        ReservationRequest request, IReadOnlySet<long>? excluded, Dictionary<long, string> rejections)
    {
        var now = clock.UtcNow;
        var scored = new List<(NodeSummary Node, double Score)>();
        foreach (var node in view.Nodes)
        {
            if (PlacementFilter.Reject(node, request, now, excluded) is { } reason)
            {
                rejections[node.NodeId] = reason;
            }
            else
            {
                scored.Add((node, PlacementFilter.Score(node, request.Resources, request.Strategy)));
            }
        }

        if (request.Resources.Ipv4 > 0 && scored.Count > 0)
        {
            var farms = scored.Select(c => c.Node.FarmId).Distinct().ToList();
            var free = await Task.WhenAll(farms.Select(f => grains.GetGrain<IFarmGrain>(f).FreeIpCountAsync()));
            var short_ = farms.Where((_, i) => free[i] < request.Resources.Ipv4).ToHashSet();
            foreach (var (node, _) in scored.Where(c => short_.Contains(c.Node.FarmId)))
            {
                rejections[node.NodeId] = PlacementFilter.InsufficientIpv4;
            }

            scored.RemoveAll(c => short_.Contains(c.Node.FarmId));
        }

        // Ties are broken at random so concurrent requests do not all queue on the same node grain.
        return [.. scored.OrderByDescending(c => Math.Round(c.Score, 6)).ThenBy(_ => Random.Shared.Next()).Select(c => c.Node)];
    }
}
