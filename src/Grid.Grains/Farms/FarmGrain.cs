using System.Collections.Immutable;
using Grid.Grains;
using Grid.Ledger;
using Grid.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Farms;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.farm")]
public sealed class FarmState
{
    [Id(0)] public long TwinId { get; set; }
    [Id(1)] public string Name { get; set; } = "";
    [Id(2)] public FarmCertification Certification { get; set; }
    [Id(3)] public double CpuOvercommit { get; set; } = 1.0;
    [Id(4)] public List<FarmIp> PublicIps { get; set; } = [];
    [Id(5)] public List<long> NodeIds { get; set; } = [];
    [Id(6)] public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// A farm and its public IPv4 pool: an address is held by at most one reservation at a time. Addresses held
/// by no reservation (a placement that failed half-way while storage was down) are found and freed by the same
/// <see cref="OrphanSweep{T, TKey}"/> as the nodes' orphan allocations, on the same interval; a farm runs it on a
/// timer (nodes run theirs on heartbeats).
/// </summary>
public sealed partial class FarmGrain(
    [PersistentState("farm", GridStorage.Name)] IPersistentState<FarmState> state,
    GridClock clock,
    IOptions<GridHealthOptions> health,
    LedgerRecorder ledger,
    ILogger<FarmGrain> logger) : Grain, IFarmGrain
{
    private readonly OrphanSweep<FarmIp, (string Ip, long ReservationId, long Epoch)> _leaks = new(ip => (ip.Ip, ip.ReservationId, ip.Epoch), ip => ip.HeldSince);
    private DateTimeOffset? _lastLeakCheck;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var interval = health.Value.OrphanCheckInterval;
        this.RegisterGrainTimer(ReleaseLeakedIpsAsync, interval, interval);
        return Task.CompletedTask;
    }

    public async Task<FarmInfo> CreateAsync(long twinId, FarmSpec spec)
    {
        if (state.RecordExists)
        {
            // A retried registration flow (same owner, same farm) finds its farm created: the flow is idempotent.
            return state.State.TwinId == twinId && state.State.Name == spec.Name
                ? Info()
                : throw new GridRequestException(409, "Farm exists", $"Farm {this.GetPrimaryKeyLong()} already exists.");
        }

        state.State = new FarmState
        {
            TwinId = twinId,
            Name = spec.Name,
            Certification = spec.Certification,
            CpuOvercommit = spec.CpuOvercommit,
            PublicIps = spec.PublicIps.Select(ip => new FarmIp(ip.Ip, ip.Gateway, 0)).ToList(),
            CreatedAt = clock.UtcNow,
        };
        await state.WriteOrDeactivateAsync(this);
        await ledger.RecordAsync(LedgerEvents.FarmRegistered(this.GetPrimaryKeyLong(), twinId, spec));
        return Info();
    }

    public Task<FarmInfo?> GetAsync() => Task.FromResult(state.RecordExists ? Info() : null);

    public async Task<NodeInfo> RegisterNodeAsync(long nodeId, NodeRegistration registration)
    {
        // Listed first, so a failure before the node's own write leaves at worst a listed id without a node
        // (skipped when listing), never a node its owner cannot list; a retry on the same id completes the flow.
        await AddNodeAsync(nodeId);
        return await GrainFactory.GetGrain<INodeGrain>(nodeId).RegisterAsync(registration, state.State.CpuOvercommit);
    }

    public async Task AddNodeAsync(long nodeId)
    {
        if (!state.State.NodeIds.Contains(nodeId))
        {
            state.State.NodeIds.Add(nodeId);
            await state.WriteOrDeactivateAsync(this);
        }
    }

    public async Task<ImmutableArray<FarmIp>?> AllocateIpsAsync(long reservationId, long epoch, int count)
    {
        var ips = state.State.PublicIps;
        var held = ips.Select((ip, index) => (ip, index)).Where(x => x.ip.ReservationId == reservationId).Take(count).ToList();
        var free = ips.Select((ip, index) => (ip, index)).Where(x => x.ip.ReservationId == 0).Take(count - held.Count).ToList();
        if (held.Count + free.Count < count)
        {
            return null;
        }

        var changes = held.Concat(free).Where(x => x.ip.ReservationId != reservationId || x.ip.Epoch != epoch).ToList();
        if (changes.Count == 0)
        {
            return held.Select(x => x.ip).ToImmutableArray();
        }

        foreach (var (ip, index) in changes)
        {
            ips[index] = ip with { ReservationId = reservationId, Epoch = epoch, HeldSince = clock.UtcNow };
        }

        try
        {
            await state.WriteOrDeactivateAsync(this);
        }
        catch
        {
            // Keep memory equal to what is durable: a failed write hands out nothing.
            foreach (var (ip, index) in changes)
            {
                ips[index] = ip;
            }

            throw;
        }

        return ips.Where(ip => ip.ReservationId == reservationId).ToImmutableArray();
    }

    public async Task ReleaseIpsAsync(long reservationId, long epoch)
    {
        var ips = state.State.PublicIps;
        var changed = false;
        for (var i = 0; i < ips.Count; i++)
        {
            if (ips[i].ReservationId == reservationId && ips[i].Epoch <= epoch)
            {
                ips[i] = ips[i] with { ReservationId = 0, Epoch = 0, HeldSince = null };
                changed = true;
            }
        }

        if (changed)
        {
            await state.WriteOrDeactivateAsync(this);
        }
    }

    public Task<int> FreeIpCountAsync() => Task.FromResult(state.State.PublicIps.Count(ip => ip.ReservationId == 0));

    public Task<DateTimeOffset?> GetLastLeakCheckAsync() => Task.FromResult(_lastLeakCheck);

    private async Task ReleaseLeakedIpsAsync(CancellationToken cancellationToken)
    {
        var started = clock.UtcNow;
        await ReleaseLeakedIpsCoreAsync();
        _lastLeakCheck = started;
    }

    private async Task ReleaseLeakedIpsCoreAsync()
    {
        // Collected by the sweep, then freed together in one write.
        var leaked = new List<FarmIp>();
        await _leaks.SweepAsync(
            state.State.PublicIps.Where(ip => ip.ReservationId != 0),
            clock.UtcNow - health.Value.OrphanCheckInterval,
            ip => GrainFactory.GetGrain<IReservationGrain>(ip.ReservationId).HoldsIpAsync(ip.Ip, ip.Epoch),
            ip =>
            {
                leaked.Add(ip);
                return Task.CompletedTask;
            });
        if (leaked.Count == 0)
        {
            return;
        }

        var ips = state.State.PublicIps;
        for (var i = 0; i < ips.Count; i++)
        {
            if (leaked.Contains(ips[i]))
            {
                LogLeakReleased(logger, this.GetPrimaryKeyLong(), ips[i].Ip, ips[i].ReservationId, ips[i].Epoch);
                ips[i] = ips[i] with { ReservationId = 0, Epoch = 0, HeldSince = null };
            }
        }

        await state.WriteOrDeactivateAsync(this);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Farm {FarmId} freed {Ip}: reservation {ReservationId} does not hold it at epoch {Epoch}")]
    private static partial void LogLeakReleased(ILogger logger, long farmId, string ip, long reservationId, long epoch);

    private FarmInfo Info() => new(
        this.GetPrimaryKeyLong(),
        state.State.TwinId,
        state.State.Name,
        state.State.Certification,
        state.State.CpuOvercommit,
        [.. state.State.PublicIps],
        [.. state.State.NodeIds],
        state.State.CreatedAt);
}
