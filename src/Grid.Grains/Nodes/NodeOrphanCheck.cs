using Grid.Grains;
using Microsoft.Extensions.Logging;

namespace Grid.Nodes;

/// <summary>
/// A node's orphan check: allocations whose reservation no longer points here (a crash between the node's write
/// and the reservation's) are released. Run on heartbeats, at most once per interval and one run at a time, so
/// there is no timer per node; a silent node's orphans wait for it to return, and its capacity is not placed on
/// meanwhile anyway.
/// </summary>
/// <param name="nodeId">The node.</param>
/// <param name="clock">Grid time.</param>
/// <param name="interval">How often a check may run, and how old an allocation must be to be asked about.</param>
/// <param name="grains">Where the reservations are.</param>
/// <param name="logger">Where released orphans and failed checks are logged.</param>
public sealed partial class NodeOrphanCheck(long nodeId, GridClock clock, TimeSpan interval, IGrainFactory grains, ILogger logger)
{
    private readonly OrphanSweep<Allocation, (long ReservationId, long Epoch)> _sweep = new(a => (a.ReservationId, a.Epoch), a => a.AllocatedAt);
    private DateTimeOffset _next;
    private Task? _running;

    /// <summary>The next check is due one interval from <paramref name="now"/> (an activation).</summary>
    public void Defer(DateTimeOffset now) => _next = now + interval;

    /// <summary>
    /// A placement retry asked for the allocation again: no check under way releases it, and the next asks about it
    /// only once it is an interval old again (see <see cref="OrphanSweep{T, TKey}.Retried"/>).
    /// </summary>
    public void Retried(long reservationId, long epoch) => _sweep.Retried((reservationId, epoch), clock.UtcNow);

    public void Forget(Allocation released) => _sweep.Forget((released.ReservationId, released.Epoch));

    /// <summary>Starts a check when one is due and none is running; the caller does not wait for it.</summary>
    public void RunWhenDue(DateTimeOffset now, NodeCapacity held, Func<HeldPlacement, Task> release)
    {
        if (now < _next || _running is { IsCompleted: false })
        {
            return;
        }

        _next = now + interval;

        // Not awaited: the heartbeat's answer does not wait on the reservations asked.
        _running = RunAsync(held, release);
    }

    private async Task RunAsync(NodeCapacity held, Func<HeldPlacement, Task> release)
    {
        try
        {
            await _sweep.SweepAsync(
                held.Allocations,
                clock.UtcNow - interval,
                allocation => grains.GetGrain<IReservationGrain>(allocation.ReservationId).IsPlacedOnAsync(nodeId, allocation.Epoch),
                async allocation =>
                {
                    // Only while it is still the same entry: no placement retry or release changed it meanwhile.
                    if (held.IsCurrent(allocation))
                    {
                        LogOrphanReleased(logger, nodeId, allocation.ReservationId, allocation.Epoch);
                        await release(new HeldPlacement(allocation.ReservationId, allocation.Epoch));
                    }
                });
        }
        catch (Exception exception)
        {
            // Storage or a reservation out of reach: the next check retries.
            LogOrphanCheckFailed(logger, exception, nodeId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} could not finish its orphan check")]
    private static partial void LogOrphanCheckFailed(ILogger logger, Exception exception, long nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} released orphan allocation of reservation {ReservationId} epoch {Epoch}")]
    private static partial void LogOrphanReleased(ILogger logger, long nodeId, long reservationId, long epoch);
}
