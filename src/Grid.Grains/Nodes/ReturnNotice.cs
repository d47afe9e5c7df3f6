using System.Collections.Concurrent;
using Grid.Grains;

namespace Grid.Nodes;

/// <summary>
/// Tells reservations what their node did (it is back; it preempted them), retrying those whose call failed (a silo
/// failover drops calls): a lost tell would leave a pinned reservation lost, an unschedulable one waiting for its
/// reminder, or a preempted one pointing at a node that no longer holds it.
/// </summary>
public static class ReturnNotice
{
    private const int MaxAttempts = 10;

    /// <summary>Tells each reservation, retrying failed ones (up to ten attempts, a pause of 1 to 5 s between) while <paramref name="stillUp"/>.</summary>
    public static Task TellAsync(IGrainFactory grains, long nodeId, long[] reservationIds, Func<bool> stillUp) =>
        TellAsync(grains, reservationIds, reservation => reservation.NodeReturnedAsync(nodeId), stillUp);

    /// <summary>Makes <paramref name="tell"/> to each reservation, retrying failed ones (up to ten attempts, a pause of 1 to 5 s between) while <paramref name="keepTrying"/>.</summary>
    public static async Task TellAsync(IGrainFactory grains, long[] reservationIds, Func<IReservationGrain, Task> tell, Func<bool> keepTrying)
    {
        for (var attempt = 1; reservationIds.Length > 0 && keepTrying(); attempt++)
        {
            var failed = new ConcurrentBag<long>();
            await Task.WhenAll(reservationIds.Select(async id =>
            {
                try
                {
                    await tell(grains.GetGrain<IReservationGrain>(id));
                }
                catch (Exception)
                {
                    failed.Add(id);
                }
            }));
            if (failed.IsEmpty || attempt == MaxAttempts)
            {
                return;
            }

            reservationIds = [.. failed];
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 5)));
        }
    }
}
