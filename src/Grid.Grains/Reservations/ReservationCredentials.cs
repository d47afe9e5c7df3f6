using Grid.Grains;

namespace Grid.Reservations;

/// <summary>
/// The pull credentials of a reservation's container workloads, as its assignments carry them to the nodes: kept
/// by <see cref="IPullCredentialsGrain"/> (memory only, never in the reservation's record) and cached here.
/// </summary>
/// <param name="grains">Where the credential holders are.</param>
public sealed class ReservationCredentials(IGrainFactory grains)
{
    private readonly Dictionary<long, PullCredentials?> _known = [];

    /// <summary>Keeps a new workload's credentials (none: nothing to keep).</summary>
    public async Task KeepAsync(long workloadId, WorkloadSpec spec, PullCredentials? auth)
    {
        if (spec.Type != WorkloadType.Container)
        {
            return;
        }

        if (auth is not null)
        {
            await grains.GetGrain<IPullCredentialsGrain>(workloadId).SetAsync(auth);
        }

        _known[workloadId] = auth;
    }

    /// <summary>The credentials of <paramref name="workloads"/> by id, asking the holders about those this activation has not seen.</summary>
    public async Task<Func<long, PullCredentials?>> LookupAsync(IReadOnlyDictionary<long, WorkloadSpec> workloads)
    {
        var missing = workloads.Where(w => w.Value.Type == WorkloadType.Container && !_known.ContainsKey(w.Key)).Select(w => w.Key).ToList();
        var found = await Task.WhenAll(missing.Select(id => grains.GetGrain<IPullCredentialsGrain>(id).GetAsync()));
        for (var i = 0; i < missing.Count; i++)
        {
            _known[missing[i]] = found[i];
        }

        return id => _known.GetValueOrDefault(id);
    }

    /// <summary>Forgets the credentials of workloads let go of (deleted, or their reservation cancelled).</summary>
    public async Task ForgetAsync(IEnumerable<long> workloadIds)
    {
        var held = workloadIds.Where(id => _known.Remove(id, out var auth) && auth is not null).ToList();
        await Task.WhenAll(held.Select(id => grains.GetGrain<IPullCredentialsGrain>(id).SetAsync(null)));
    }
}
