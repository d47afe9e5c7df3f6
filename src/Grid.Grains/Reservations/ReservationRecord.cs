using System.Collections.Immutable;
using Grid.Billing;
using Grid.Scheduling;

namespace Grid.Reservations;

/// <summary>Persisted state of a reservation grain.</summary>
[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.reservation")]
public sealed class ReservationRecord
{
    [Id(0)] public ReservationRequest? Request { get; set; }
    [Id(1)] public ReservationState State { get; set; }
    [Id(2)] public long? NodeId { get; set; }
    [Id(3)] public long Epoch { get; set; }
    [Id(4)] public List<FarmIp> PublicIps { get; set; } = [];
    [Id(5)] public Dictionary<long, WorkloadSpec> Workloads { get; set; } = [];
    [Id(6)] public List<ReservationEvent> Events { get; set; } = [];
    [Id(7)] public DateTimeOffset CreatedAt { get; set; }
    [Id(8)] public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>During a make-before-break move: the placement still running until the new one is.</summary>
    [Id(9)] public long? PreviousNodeId { get; set; }
    [Id(10)] public long PreviousEpoch { get; set; }
    [Id(11)] public int Retries { get; set; }

    /// <summary>Metering and the billing cursor.</summary>
    [Id(12)] public ReservationMeter Meter { get; set; } = new();

    /// <summary>The reservation that preempted it last; null when never preempted.</summary>
    [Id(13)] public long? PreemptedBy { get; set; }

    /// <summary>When it was preempted last: it is placed again only once its workloads' notice from then is over.</summary>
    [Id(14)] public DateTimeOffset? PreemptedAt { get; set; }

    /// <summary>
    /// A new reservation, active at its first placement: metered from <paramref name="now"/> at that placement's
    /// price, its "placed" ledger event pending in the record (appended after the write that makes it durable).
    /// </summary>
    public static ReservationRecord Placed(long reservationId, ReservationRequest request, Placement placement, DateTimeOffset now)
    {
        var record = new ReservationRecord
        {
            Request = request,
            State = ReservationLifecycle.Fire(ReservationState.Pending, ReservationTrigger.Placed),
            NodeId = placement.NodeId,
            Epoch = 1,
            PublicIps = [.. placement.PublicIps],
            CreatedAt = now,
            UpdatedAt = now,
        };

        // The record's own (empty) meter, filled in: one meter per placement, not a second one replacing it.
        var meter = record.Meter;
        meter.PricePerHour = placement.PricePerHour;
        meter.GpuPricePerHour = placement.GpuPricePerHour;
        meter.FarmId = placement.FarmId;
        meter.FarmerTwinId = placement.FarmerTwinId;
        meter.BilledUntil = ReservationMeter.Second(now);
        meter.RentedNodeId = placement.OnRentedNode ? placement.NodeId : null;
        meter.Start(placement.NodeId, now);
        meter.Pending.Add(BillingEvents.Placed(reservationId, request.TwinId, placement.NodeId, placement.FarmId, 1,
            request.Resources, placement.PricePerHour, placement.PublicIps));
        record.Events.Add(new ReservationEvent(now, "placed", placement.NodeId, 1, $"Placed on node {placement.NodeId}."));
        return record;
    }

    /// <summary>
    /// What the reservation's node runs for it at <paramref name="epoch"/>: its workloads in id order, none in grace
    /// (so the node's agent stops them while the capacity is kept). Each carries the reservation's twin and, from
    /// <paramref name="auth"/>, its pull credentials.
    /// </summary>
    public ImmutableArray<WorkloadAssignment> Assignments(long reservationId, long epoch, Func<long, PullCredentials?>? auth = null) =>
        State == ReservationState.Grace ? [] :
        [.. Workloads.OrderBy(w => w.Key).Select(w => new WorkloadAssignment(w.Key, reservationId, epoch, w.Value)
        {
            TwinId = Request!.TwinId,
            Auth = auth?.Invoke(w.Key),
        })];

    /// <summary>The names of its volumes, which a move leaves behind (a volume lives on its node).</summary>
    public IEnumerable<string> VolumeNames() => Workloads.OrderBy(w => w.Key).Where(w => w.Value.Type == WorkloadType.Volume).Select(w => w.Value.Name);

    public ReservationInfo ToInfo(long reservationId) => new(
        reservationId,
        Request!.TwinId,
        State,
        NodeId,
        Epoch,
        Request.Resources,
        Request.Constraints,
        Request.Strategy,
        [.. PublicIps],
        [.. Workloads.Keys.Order()],
        CreatedAt,
        UpdatedAt,
        Meter.PricePerHour + Meter.GpuPricePerHour)
    {
        SolutionProvider = Request.SolutionProvider,
        Priority = Request.Priority,
        Spot = Request.Spot,
        PreemptedBy = PreemptedBy,
    };
}
