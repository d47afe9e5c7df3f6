using Grid.Grains;

namespace Grid.Reservations;

/// <summary>
/// The rules a reservation's volumes and containers keep among themselves: volume names are unique (containers
/// mount them by name), a container mounts only volumes the reservation has, and the volumes' sizes plus the
/// containers' writable layers (their <c>sru</c>, else <see cref="ContainerSpec.DefaultWritableLayer"/>) never exceed the reservation's <c>sru</c>.
/// </summary>
public static class ReservationStorage
{
    /// <summary>Throws the 409 that names what <paramref name="spec"/> would break in the reservation as it is.</summary>
    public static void Check(long reservationId, ReservationRecord record, WorkloadSpec spec)
    {
        if (spec.Type is not (WorkloadType.Volume or WorkloadType.Container))
        {
            return;
        }

        var volumes = record.Workloads.Values.Where(w => w.Type == WorkloadType.Volume).Select(w => w.Name).ToHashSet(StringComparer.Ordinal);
        if (spec.Type == WorkloadType.Volume && volumes.Contains(spec.Name))
        {
            throw new GridRequestException(409, "Volume exists", $"Reservation {reservationId} already has a volume named {spec.Name}.");
        }

        foreach (var mount in spec.Container?.Mounts ?? [])
        {
            if (!volumes.Contains(mount.Volume))
            {
                throw new GridRequestException(409, "Unknown volume",
                    $"container.mounts: reservation {reservationId} has no volume named {mount.Volume}; deploy the volume first.");
            }
        }

        var used = record.Workloads.Values.Sum(Storage);
        var limit = record.Request!.Resources.Sru;
        if (used + Storage(spec) > limit)
        {
            throw new GridRequestException(409, "Storage exceeds reservation",
                $"Reservation {reservationId} has sru {limit} bytes; its volumes and container layers use {used}, and {spec.Name} asks for {Storage(spec)} more.");
        }
    }

    /// <summary>The SSD a workload takes on its node: a volume's size, a container's writable layer (the node makes it that big).</summary>
    private static long Storage(WorkloadSpec spec) => spec.Type switch
    {
        WorkloadType.Volume => spec.Volume?.Size ?? spec.Resources.Sru,
        WorkloadType.Container => ContainerSpec.WritableLayer(spec.Resources),
        _ => 0,
    };
}
