using System.Collections.Immutable;
using Grid.Agent.Runtimes;

namespace Grid.Agent.Reconciling;

/// <summary>A workload the agent holds, as the reconciler sees it.</summary>
/// <param name="Key">The workload and the epoch it runs at here.</param>
/// <param name="KnowsSpec">False for an instance re-adopted after an agent restart until the controller confirms it.</param>
internal sealed record HeldWorkload(WorkloadKey Key, bool KnowsSpec);

/// <summary>An instance the agent must stop, and why (reported to the controller with the stop).</summary>
internal sealed record StopDecision(WorkloadKey Key, string Reason);

/// <summary>What to do to bring the workloads held here to the desired ones, in this order.</summary>
/// <param name="Stops">Instances no longer desired, or at another epoch than the controller placed.</param>
/// <param name="Confirms">Re-adopted instances the controller still wants: they learn their spec, to be restarted if they exit.</param>
/// <param name="Starts">Desired workloads not held (once the stops are done).</param>
internal sealed record ReconcilePlan(
    ImmutableArray<StopDecision> Stops,
    ImmutableArray<WorkloadAssignment> Confirms,
    ImmutableArray<WorkloadAssignment> Starts)
{
    /// <summary>True when something starts or stops: the controller should hear of it at once.</summary>
    public bool Changes => !Stops.IsEmpty || !Starts.IsEmpty;
}

/// <summary>Which adopted instances the agent keeps: only one epoch of a workload may run here.</summary>
/// <param name="Keep">The newest epoch of each workload.</param>
/// <param name="Stop">Older epochs of a workload that also runs at a newer one: they go at once.</param>
internal sealed record AdoptionPlan(ImmutableArray<WorkloadKey> Keep, ImmutableArray<WorkloadKey> Stop);

/// <summary>
/// The agent's decisions, free of processes and clocks: desired workloads against held ones. A workload runs at
/// most at one epoch on a node; the controller's highest epoch of it wins, and any other copy is stopped.
/// </summary>
internal static class Reconciler
{
    /// <summary>Stops what is not desired or held at another epoch, confirms adopted instances, starts what is missing.</summary>
    public static ReconcilePlan Plan(IEnumerable<WorkloadAssignment> desired, IEnumerable<HeldWorkload> held)
    {
        var wanted = desired.GroupBy(a => a.WorkloadId).ToDictionary(g => g.Key, g => g.MaxBy(a => a.Epoch)!);
        var stops = ImmutableArray.CreateBuilder<StopDecision>();
        var confirms = ImmutableArray.CreateBuilder<WorkloadAssignment>();
        var kept = new HashSet<long>();
        foreach (var workload in held)
        {
            if (!wanted.TryGetValue(workload.Key.WorkloadId, out var assignment))
            {
                stops.Add(new(workload.Key, "no longer desired by the controller"));
            }
            else if (assignment.Epoch != workload.Key.Epoch)
            {
                // Older or newer: the controller's epoch is the only one that may run.
                stops.Add(new(workload.Key, $"stale epoch {workload.Key.Epoch}: the controller placed epoch {assignment.Epoch}"));
            }
            else
            {
                kept.Add(workload.Key.WorkloadId);
                if (!workload.KnowsSpec)
                {
                    confirms.Add(assignment);
                }
            }
        }

        // Volumes start first: the containers starting with them (a reservation that just moved here) mount them.
        return new(stops.ToImmutable(), confirms.ToImmutable(),
            [.. wanted.Values.Where(a => !kept.Contains(a.WorkloadId)).OrderBy(a => a.Spec.Type == WorkloadType.Volume ? 0 : 1)]);
    }

    /// <summary>Keeps the newest epoch of each adopted workload and stops the older copies.</summary>
    public static AdoptionPlan Adopt(IEnumerable<WorkloadKey> adopted)
    {
        var byWorkload = adopted.GroupBy(k => k.WorkloadId).ToList();
        var keep = byWorkload.Select(g => g.MaxBy(k => k.Epoch)).ToImmutableArray();
        return new(keep, [.. byWorkload.SelectMany(g => g).Except(keep)]);
    }
}
