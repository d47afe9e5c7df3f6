using System.Collections.Immutable;

namespace Grid.Scheduling;

/// <summary>A node a preemption may use: what it has free now and what it holds (as its grain answered).</summary>
public sealed record PreemptionCandidate(long NodeId, Capacity Free, IReadOnlyList<Allocation> Allocations);

/// <summary>Where a reservation goes by preemption, and which allocations there make room for it.</summary>
public sealed record PreemptionPlan(long NodeId, ImmutableArray<Allocation> Victims)
{
    /// <summary>What the victims pay per hour together: the cost of the plan after its size.</summary>
    public long Cost => Victims.Sum(v => v.PricePerHour);
}

/// <summary>
/// The pure decision of a preemption (like Nomad's preemption with a gap of 10 priority points): among the
/// candidates, the one node where the fewest, then the cheapest, preemptible allocations make room for the request.
/// Preemptible are spot allocations when the request is not spot, and allocations at least
/// <see cref="ReservationPriority.PreemptionGap"/> points lower (<see cref="ReservationPriority.MayPreempt"/>).
/// </summary>
public static class PreemptionPlanner
{
    /// <summary>Subsets looked at per node before the search settles for a greedy choice (a node of many small allocations).</summary>
    private const int MaxSubsets = 20_000;

    /// <summary>The best plan for reservation <paramref name="reservationId"/> over <paramref name="candidates"/>, or null when no node can be made to fit.</summary>
    public static PreemptionPlan? Plan(long reservationId, ReservationRequest request, IEnumerable<PreemptionCandidate> candidates)
    {
        PreemptionPlan? best = null;
        foreach (var candidate in candidates)
        {
            if (PlanNode(reservationId, request, candidate) is { } plan && (best is null || Better(plan, best)))
            {
                best = plan;
            }
        }

        return best;
    }

    /// <summary>The fewest, then cheapest, victims on one node that make room; null when even all of them would not.</summary>
    public static PreemptionPlan? PlanNode(long reservationId, ReservationRequest request, PreemptionCandidate candidate)
    {
        var need = Need(candidate.Free, request.Resources);
        if (need == Capacity.Zero)
        {
            return new PreemptionPlan(candidate.NodeId, []);
        }

        // Cheapest first, then lowest priority: the first cover found at each size is usually the cheapest.
        var eligible = candidate.Allocations
            .Where(a => a.ReservationId != reservationId
                && ReservationPriority.MayPreempt(request.Priority, request.Spot, a.Priority, a.Spot))
            .OrderBy(a => a.PricePerHour).ThenBy(a => a.Priority).ThenBy(a => a.ReservationId)
            .ToArray();
        if (!Covers(eligible, need))
        {
            return null;
        }

        IEnumerable<Allocation> victims = Smallest(eligible, need) ?? (IEnumerable<Allocation>)Greedy(eligible, need);
        return new PreemptionPlan(candidate.NodeId, [.. victims.OrderBy(v => v.ReservationId)]);
    }

    /// <summary>True when <paramref name="plan"/> beats <paramref name="other"/>: fewer victims, then cheaper, then lower priorities, then the lower node id.</summary>
    public static bool Better(PreemptionPlan plan, PreemptionPlan other) =>
        (plan.Victims.Length, plan.Cost, plan.Victims.Sum(v => (long)v.Priority), plan.NodeId)
            .CompareTo((other.Victims.Length, other.Cost, other.Victims.Sum(v => (long)v.Priority), other.NodeId)) < 0;

    /// <summary>What the node lacks for <paramref name="wanted"/>, per unit (addresses are the farm's, not the node's).</summary>
    public static Capacity Need(Capacity free, Capacity wanted) => new(
        Math.Max(0, wanted.Cru - free.Cru),
        Math.Max(0, wanted.Mru - free.Mru),
        Math.Max(0, wanted.Sru - free.Sru),
        Math.Max(0, wanted.Hru - free.Hru),
        0);

    private static bool Covers(IEnumerable<Allocation> victims, Capacity need)
    {
        var freed = victims.Aggregate(Capacity.Zero, (sum, v) => sum + v.Resources);
        return freed.Cru >= need.Cru && freed.Mru >= need.Mru && freed.Sru >= need.Sru && freed.Hru >= need.Hru;
    }

    /// <summary>
    /// The cheapest cover among the smallest ones, by sizes 1, 2, ... over combinations in order; null when the
    /// search would look at more than <see cref="MaxSubsets"/> subsets.
    /// </summary>
    private static Allocation[]? Smallest(Allocation[] eligible, Capacity need)
    {
        var looked = 0;
        for (var size = 1; size <= eligible.Length; size++)
        {
            Allocation[]? cheapest = null;
            var cheapestCost = long.MaxValue;
            var indices = Enumerable.Range(0, size).ToArray();
            while (true)
            {
                if (++looked > MaxSubsets)
                {
                    return cheapest;
                }

                var subset = indices.Select(i => eligible[i]).ToArray();
                var cost = subset.Sum(v => v.PricePerHour);
                if (cost < cheapestCost && Covers(subset, need))
                {
                    (cheapest, cheapestCost) = (subset, cost);
                }

                if (!NextCombination(indices, eligible.Length))
                {
                    break;
                }
            }

            if (cheapest is not null)
            {
                return cheapest;
            }
        }

        return null;
    }

    /// <summary>The largest share of what is still lacking first, then drops the dearest victims that turned out not to be needed.</summary>
    private static List<Allocation> Greedy(Allocation[] eligible, Capacity need)
    {
        var chosen = new List<Allocation>();
        var left = need;
        var pool = eligible.ToList();
        while (left != Capacity.Zero && pool.Count > 0)
        {
            var next = pool.MaxBy(a => Share(a.Resources, left))!;
            pool.Remove(next);
            chosen.Add(next);
            left = Need(next.Resources, left);
        }

        foreach (var dear in chosen.OrderByDescending(v => v.PricePerHour).ToList())
        {
            if (Covers(chosen.Where(v => v != dear), need))
            {
                chosen.Remove(dear);
            }
        }

        return chosen;
    }

    private static double Share(Capacity resources, Capacity left) =>
        Part(resources.Cru, left.Cru) + Part(resources.Mru, left.Mru) + Part(resources.Sru, left.Sru) + Part(resources.Hru, left.Hru);

    private static double Part(long have, long lacking) => lacking <= 0 ? 0 : Math.Min(1.0, (double)have / lacking);

    private static bool NextCombination(int[] indices, int n)
    {
        var k = indices.Length;
        var i = k - 1;
        while (i >= 0 && indices[i] == n - k + i)
        {
            i--;
        }

        if (i < 0)
        {
            return false;
        }

        indices[i]++;
        for (var j = i + 1; j < k; j++)
        {
            indices[j] = indices[j - 1] + 1;
        }

        return true;
    }
}
