using System.Collections.Immutable;
using Grid.Billing;
using Grid.Grains;
using Grid.Ledger;
using Grid.Reservations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Names;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.name")]
public sealed class NameRecord
{
    /// <summary>The owner while claimed; 0 while free (never claimed, or released).</summary>
    [Id(0)] public long TwinId { get; set; }
    [Id(1)] public List<NameBackend> Backends { get; set; } = [];
    [Id(2)] public NameHealthCheck HealthCheck { get; set; } = NameHealthCheck.Default;

    /// <summary>How many times the name was claimed: numbers each claim's ledger events.</summary>
    [Id(3)] public long Claim { get; set; }
    [Id(4)] public DateTimeOffset CreatedAt { get; set; }
    [Id(5)] public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Per gateway node, the highest traffic report sequence counted (a resent report is not counted again).</summary>
    [Id(6)] public Dictionary<long, long> TrafficSequences { get; set; } = [];
    [Id(7)] public long BytesIn { get; set; }
    [Id(8)] public long BytesOut { get; set; }

    /// <summary>The claim's billing: cursor, traffic waiting per gateway node, recent bills.</summary>
    [Id(9)] public NameMeter Meter { get; set; } = new();
}

/// <summary>
/// One gateway name, unique because it is the grain's key. Its write is the fact; the ledger entry and the route
/// table follow it. The route table is told after every write, and again by a new activation's first call, so a
/// failed telling is mended by the owner's next look at the name.
/// </summary>
public sealed partial class NameGrain(
    [PersistentState("name", GridStorage.Name)] IPersistentState<NameRecord> state,
    GridClock clock,
    IOptions<GatewayOptions> options,
    LedgerRecorder ledger,
    ReservationBillingServices billing,
    PriceBook prices,
    ILogger<NameGrain> logger) : Grain, INameGrain, IRemindable
{
    private bool _routed;

    private NameRecord Record => state.State;

    private string Name => this.GetPrimaryKeyString();

    private IGatewayRoutesGrain Routes => GrainFactory.GetGrain<IGatewayRoutesGrain>(0);

    public async Task<NameInfo> ClaimAsync(long twinId, ImmutableArray<NameBackend> backends, NameHealthCheck healthCheck)
    {
        if (Record.TwinId != 0)
        {
            throw new GridRequestException(409, "Name taken", $"The name {Name} is taken; choose another.");
        }

        var now = clock.UtcNow;
        Record.TwinId = twinId;
        Record.Backends = [.. backends];
        Record.HealthCheck = healthCheck;
        Record.Claim++;
        Record.BytesIn = 0;
        Record.BytesOut = 0;
        Record.CreatedAt = now;
        Record.UpdatedAt = now;
        Record.Meter.Start(twinId, now);
        await state.WriteOrDeactivateAsync(this);
        await ledger.RecordAsync(LedgerEvents.NameClaimed(Name, twinId, Record.Claim));
        await StartBillingAsync();
        await RouteAsync();
        return Info()!;
    }

    public async Task<NameInfo?> GetAsync()
    {
        await MendRouteAsync();
        return Info();
    }

    public async Task<NameInfo?> UpdateAsync(long twinId, ImmutableArray<NameBackend> backends, NameHealthCheck healthCheck)
    {
        if (Record.TwinId == 0 || Record.TwinId != twinId)
        {
            return null;
        }

        Record.Backends = [.. backends];
        Record.HealthCheck = healthCheck;
        Record.UpdatedAt = clock.UtcNow;
        await state.WriteOrDeactivateAsync(this);
        await RouteAsync();
        return Info();
    }

    public async Task<bool> ReleaseAsync(long twinId)
    {
        if (Record.TwinId == 0 || Record.TwinId != twinId)
        {
            return false;
        }

        // The last partial period and the traffic counted so far are billed before the name is free: a failed bill
        // fails the release (the name stays claimed, the owner retries), so no claim ends unbilled.
        await BillUntilAsync(clock.UtcNow, final: true);
        var claim = Record.Claim;
        Record.TwinId = 0;
        Record.Backends = [];
        Record.HealthCheck = NameHealthCheck.Default;
        Record.UpdatedAt = clock.UtcNow;
        await state.WriteOrDeactivateAsync(this);
        await ledger.RecordAsync(LedgerEvents.NameReleased(Name, twinId, claim));
        await Routes.RemoveNameAsync(Name, claim);
        _routed = true;
        await StopBillingAsync();
        return true;
    }

    public async Task AddTrafficAsync(TrafficCarrier carrier, long sequence, long bytesIn, long bytesOut)
    {
        if (Record.TwinId == 0 || Record.TrafficSequences.GetValueOrDefault(carrier.NodeId) >= sequence)
        {
            return;
        }

        Record.TrafficSequences[carrier.NodeId] = sequence;
        Record.BytesIn += bytesIn;
        Record.BytesOut += bytesOut;
        // Counted and waiting for the bill in the same write: the sequence guard above makes both exactly once.
        Record.Meter.Add(carrier, bytesIn + bytesOut);
        await state.WriteOrDeactivateAsync(this);
    }

    public async Task<NameInfo?> GetStatusAsync()
    {
        if (Info() is not { } info)
        {
            return null;
        }

        await MendRouteAsync();
        var ids = Record.Backends.Where(b => b.WorkloadId is not null).Select(b => b.WorkloadId!.Value).Distinct().ToList();
        var workloads = (await Task.WhenAll(ids.Select(id => GrainFactory.GetGrain<IWorkloadGrain>(id).GetAsync())))
            .Zip(ids).ToDictionary(p => p.Second, p => p.First);
        var reservationIds = workloads.Values.OfType<WorkloadInfo>().Select(w => w.ReservationId).Distinct().ToList();
        var reservations = (await Task.WhenAll(reservationIds.Select(id => GrainFactory.GetGrain<IReservationGrain>(id).GetAsync())))
            .Zip(reservationIds).ToDictionary(p => p.Second, p => p.First?.State);
        var health = await Routes.HealthAsync(Name);
        return info with { Backends = NameBackendStates.Of(Definition(), workloads, reservations, health) };
    }

    private async Task MendRouteAsync()
    {
        if (!_routed && Record.Claim > 0)
        {
            await RouteAsync();
        }
    }

    private async Task RouteAsync()
    {
        if (Record.TwinId == 0)
        {
            await Routes.RemoveNameAsync(Name, Record.Claim);
        }
        else
        {
            await Routes.SetNameAsync(Definition());
        }

        _routed = true;
    }

    private NameDefinition Definition() =>
        new(Name, Record.TwinId, [.. Record.Backends], Record.HealthCheck, Record.Claim, Record.CreatedAt, Record.UpdatedAt);

    private NameInfo? Info() => Record.TwinId == 0
        ? null
        : new NameInfo(Name, Record.TwinId, options.Value.UrlOf(Name),
            [.. Record.Backends.Select(b => new NameBackendStatus(b.WorkloadId, b.Port, b.Url))],
            Record.HealthCheck, Record.CreatedAt, Record.UpdatedAt)
        {
            BytesIn = Record.BytesIn,
            BytesOut = Record.BytesOut,
        };
}
