namespace Grid.Reservations;

/// <summary>Persisted state of a reservation grain.</summary>
[GenerateSerializer, Alias("grid.state.reservation")]
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
    [Id(12)] public Billing.ReservationMeter Meter { get; set; } = new();
}
