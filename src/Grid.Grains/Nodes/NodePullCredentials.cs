using System.Collections.Immutable;
using Grid.Grains;

namespace Grid.Nodes;

/// <summary>
/// The pull credentials of the container workloads a node runs, in memory only: the node's durable allocations hold
/// their assignments without them, and the desired list handed to the agent has them attached again.
/// </summary>
public sealed class NodePullCredentials
{
    // Made at the first credentials: most nodes run no private images, and every node grain has one of these.
    private Dictionary<long, PullCredentials>? _byWorkload;

    /// <summary>Keeps the credentials of <paramref name="workloads"/> here; answers them without, as they are stored.</summary>
    public ImmutableArray<WorkloadAssignment> Keep(ImmutableArray<WorkloadAssignment> workloads)
    {
        if (workloads.IsDefault || !workloads.Any(w => w.Auth is not null))
        {
            return workloads;
        }

        foreach (var workload in workloads)
        {
            if (workload.Auth is { } auth)
            {
                (_byWorkload ??= [])[workload.WorkloadId] = auth;
            }
        }

        return [.. workloads.Select(w => w.Auth is null ? w : w with { Auth = null })];
    }

    /// <summary>The requests with their credentials kept here and taken out.</summary>
    public ImmutableArray<AllocationRequest> Keep(ImmutableArray<AllocationRequest> requests) =>
        requests.Any(r => !r.Workloads.IsDefault && r.Workloads.Any(w => w.Auth is not null))
            ? [.. requests.Select(r => r with { Workloads = Keep(r.Workloads) })]
            : requests;

    /// <summary>What the agent is told to run: the assignments with the credentials held here.</summary>
    public ImmutableArray<WorkloadAssignment> Attach(ImmutableArray<WorkloadAssignment> desired) => _byWorkload is null || _byWorkload.Count == 0
        ? desired
        : [.. desired.Select(w => _byWorkload.TryGetValue(w.WorkloadId, out var auth) ? w with { Auth = auth } : w)];

    /// <summary>Forgets the credentials of a released allocation's workloads.</summary>
    public void Forget(Allocation released)
    {
        foreach (var workload in released.Workloads.IsDefault ? [] : released.Workloads)
        {
            _byWorkload?.Remove(workload.WorkloadId);
        }
    }

    /// <summary>
    /// At activation: the credentials of the container workloads held, from where the cluster keeps them in memory
    /// (a new activation of the node, say after its silo was lost, has none of its own).
    /// </summary>
    public async Task LoadAsync(IGrainFactory grains, IEnumerable<Allocation> held)
    {
        var containers = held.SelectMany(a => a.Workloads.IsDefault ? [] : a.Workloads)
            .Where(w => w.Spec.Type == WorkloadType.Container)
            .Select(w => w.WorkloadId)
            .ToList();
        var found = await Task.WhenAll(containers.Select(id => grains.GetGrain<IPullCredentialsGrain>(id).GetAsync()));
        for (var i = 0; i < containers.Count; i++)
        {
            if (found[i] is { } auth)
            {
                (_byWorkload ??= [])[containers[i]] = auth;
            }
        }
    }
}
