namespace Grid.Nodes;

/// <summary>
/// One sweep for things held on a reservation's behalf that the reservation may no longer claim: a node's
/// allocations (a crash between the node's write and the reservation's) and a farm's addresses (a placement that
/// failed half-way). Whatever has been held longer than the cutoff and is not yet confirmed is asked about; a
/// claimed one is confirmed (it stays valid until released, and is not asked about again in this activation), an
/// unclaimed one is released, unless it was confirmed while the reservation was being asked.
/// </summary>
/// <typeparam name="T">What is held (an allocation, an address).</typeparam>
/// <typeparam name="TKey">What identifies one holding: the same key confirmed means the same holder at the same epoch.</typeparam>
public sealed class OrphanSweep<T, TKey>(Func<T, TKey> key, Func<T, DateTimeOffset?> heldSince)
    where TKey : notnull
{
    private readonly HashSet<TKey> _confirmed = [];

    /// <summary>Marks a holding as claimed (for instance by a retried placement), so no sweep releases it.</summary>
    public void Confirm(TKey holding) => _confirmed.Add(holding);

    /// <summary>Forgets a released holding.</summary>
    public void Forget(TKey holding) => _confirmed.Remove(holding);

    public bool IsConfirmed(TKey holding) => _confirmed.Contains(holding);

    /// <summary>
    /// Asks about each suspect in turn (<paramref name="isClaimed"/>) and hands each unclaimed one to
    /// <paramref name="release"/>, which must check the holding is still the one asked about.
    /// </summary>
    /// <returns>How many were handed to <paramref name="release"/>.</returns>
    public async Task<int> SweepAsync(IEnumerable<T> held, DateTimeOffset cutoff, Func<T, Task<bool>> isClaimed, Func<T, Task> release)
    {
        // Listed before the first await: what changes meanwhile is seen by the next sweep.
        var suspects = held.Where(h => heldSince(h) < cutoff && !_confirmed.Contains(key(h))).ToList();
        var released = 0;
        foreach (var suspect in suspects)
        {
            if (await isClaimed(suspect))
            {
                _confirmed.Add(key(suspect));
            }
            else if (!_confirmed.Contains(key(suspect)))
            {
                released++;
                await release(suspect);
            }
        }

        return released;
    }
}
