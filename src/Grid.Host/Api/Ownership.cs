using Grid.Grains;

namespace Grid.Host.Api;

/// <summary>
/// The HTTP layer's one owner check: a farm, node, reservation or workload is found only by the twin that owns it.
/// Another twin's looks exactly like a missing one, so handlers answer 404 for both and ids cannot be probed.
/// </summary>
public static class Ownership
{
    /// <summary>The farm if it exists and belongs to <paramref name="twinId"/>, else null.</summary>
    public static Task<FarmInfo?> FarmAsync(IGrainFactory grains, long farmId, long twinId) =>
        OwnedAsync(farmId, twinId, () => grains.GetGrain<IFarmGrain>(farmId).GetAsync(), farm => farm.TwinId);

    /// <summary>The node if it exists and belongs to <paramref name="twinId"/>, else null.</summary>
    public static Task<NodeInfo?> NodeAsync(IGrainFactory grains, long nodeId, long twinId) =>
        OwnedAsync(nodeId, twinId, () => grains.GetGrain<INodeGrain>(nodeId).GetAsync(), node => node.TwinId);

    /// <summary>The reservation if it exists and belongs to <paramref name="twinId"/>, else null.</summary>
    public static Task<ReservationInfo?> ReservationAsync(IGrainFactory grains, long reservationId, long twinId) =>
        OwnedAsync(reservationId, twinId, () => grains.GetGrain<IReservationGrain>(reservationId).GetAsync(), reservation => reservation.TwinId);

    /// <summary>The workload if it exists and belongs to <paramref name="twinId"/>, else null.</summary>
    public static Task<WorkloadInfo?> WorkloadAsync(IGrainFactory grains, long workloadId, long twinId) =>
        OwnedAsync(workloadId, twinId, () => grains.GetGrain<IWorkloadGrain>(workloadId).GetAsync(), workload => workload.TwinId);

    private static async Task<T?> OwnedAsync<T>(long id, long twinId, Func<Task<T?>> read, Func<T, long> owner)
        where T : class
    {
        // Ids start at 1: a smaller one cannot exist, so no grain is activated for it.
        if (id <= 0)
        {
            return null;
        }

        var value = await read();
        return value is not null && owner(value) == twinId ? value : null;
    }
}
