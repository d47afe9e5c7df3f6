namespace Grid.Nodes;

/// <summary>
/// One sweep for things held on a reservation's behalf that the reservation may no longer claim: a node's
/// allocations (a crash between the node's write and the reservation's) and a farm's addresses (a placement that
/// failed half-way). Whatever has been held longer than the cutoff and is not yet confirmed is asked about; a
/// claimed one is confirmed (it stays valid until released, and is not asked about again in this activation), an
/// unclaimed one is released, unless it was confirmed or retried while the reservation was being asked.
/// </summary>
/// <typeparam name="T">What is held (an allocation, an address).</typeparam>
/// <typeparam name="TKey">What identifies one holding: the same key confirmed means the same holder at the same epoch.</typeparam>
public sealed class OrphanSweep<T, TKey>(Func<T, TKey> key, Func<T, DateTimeOffset?> heldSince)
    where TKey : notnull
{
    // Both made at their first entry: a sweep per node grain, most of which never confirm or see a retry before
    // their first check (an empty set and dictionary are 144 B per node).
    private HashSet<TKey>? _confirmed;

    // Holdings a placement retry asked for again, and when: in doubt, not confirmed (see Retried).
    private Dictionary<TKey, DateTimeOffset>? _retried;

    /// <summary>Marks a holding as claimed for good (its reservation said so), so no sweep releases it.</summary>
    public void Confirm(TKey holding) => (_confirmed ??= []).Add(holding);

    /// <summary>
    /// A placement retry asked for the holding again at <paramref name="at"/>. Not a confirmation: the retry may
    /// still fail, and the next one land elsewhere with the same epoch (a create retried while the database was
    /// out of reach), which would leave this holding confirmed and never asked about again. So the retry only
    /// counts as a fresh hold: no sweep under way releases it, and the next asks about it once it is older than
    /// the cutoff again.
    /// </summary>
    public void Retried(TKey holding, DateTimeOffset at) => (_retried ??= [])[holding] = at;

    /// <summary>Forgets a released holding.</summary>
    public void Forget(TKey holding)
    {
        _confirmed?.Remove(holding);
        _retried?.Remove(holding);
    }

    public bool IsConfirmed(TKey holding) => _confirmed?.Contains(holding) == true;

    /// <summary>
    /// Asks about each suspect in turn (<paramref name="isClaimed"/>) and hands each unclaimed one to
    /// <paramref name="release"/>, which must check the holding is still the one asked about.
    /// </summary>
    /// <returns>How many were handed to <paramref name="release"/>.</returns>
    public async Task<int> SweepAsync(IEnumerable<T> held, DateTimeOffset cutoff, Func<T, Task<bool>> isClaimed, Func<T, Task> release)
    {
        // Listed before the first await: what changes meanwhile is seen by the next sweep.
        var suspects = held.Where(h => heldSince(h) < cutoff && !IsConfirmed(key(h)) && !RetriedSince(key(h), cutoff)).ToList();
        var released = 0;
        foreach (var suspect in suspects)
        {
            var holding = key(suspect);
            if (await isClaimed(suspect))
            {
                Confirm(holding);
                _retried?.Remove(holding);
            }
            else if (!IsConfirmed(holding) && !RetriedSince(holding, cutoff))
            {
                released++;
                await release(suspect);
            }
        }

        return released;
    }

    private bool RetriedSince(TKey holding, DateTimeOffset cutoff) => _retried is not null && _retried.TryGetValue(holding, out var at) && at >= cutoff;
}
