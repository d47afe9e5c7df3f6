using System.Collections.Concurrent;
using Grid.Grains;

namespace Grid.Nodes;

/// <summary>
/// Tells the reservations a node holds that it is back, retrying those whose call failed (a silo failover drops
/// calls): a lost tell would leave a pinned reservation lost, or an unschedulable one waiting for its reminder.
/// </summary>
public static class ReturnNotice
{
    private const int MaxAttempts = 10;

    /// <summary>Tells each reservation, retrying failed ones (up to ten attempts, a pause of 1 to 5 s between) while <paramref name="stillUp"/>.</summary>
    public static async Task TellAsync(IGrainFactory grains, long nodeId, long[] reservationIds, Func<bool> stillUp)
    {
        for (var attempt = 1; reservationIds.Length > 0 && stillUp(); attempt++)
        {
            var failed = new ConcurrentBag<long>();
            await Task.WhenAll(reservationIds.Select(async id =>
            {
                try
                {
                    await grains.GetGrain<IReservationGrain>(id).NodeReturnedAsync(nodeId);
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
