using System.Collections.Immutable;
using Grid.Grains;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace Grid.Names;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.gateway-routes")]
public sealed class GatewayRoutesState
{
    /// <summary>Every claimed name, as its grain last told (a copy: the name grain is the authority).</summary>
    [Id(0)] public Dictionary<string, NameDefinition> Names { get; set; } = [];

    /// <summary>Counts activations, so versions (incarnation, then a counter) only grow whichever silo hosts the table.</summary>
    [Id(1)] public long Incarnation { get; set; }
}

/// <summary>
/// The grid's one route table. Names come from their grains, workload states from workload grains (told on every
/// change of a workload with published ports, and asked again every <see cref="RefreshInterval"/> in case a one-way
/// call was lost); gateway nodes sync with their heartbeats and are told of every new version, so their agents'
/// long-polls wake at once. Reentrant: every change of the table is synchronous between awaits.
/// </summary>
[Reentrant]
public sealed partial class GatewayRoutesGrain(
    [PersistentState("gateway-routes", GridStorage.Name)] IPersistentState<GatewayRoutesState> state,
    GridClock clock,
    IOptions<GatewayOptions> options,
    ILogger<GatewayRoutesGrain> logger) : Grain, IGatewayRoutesGrain
{
    /// <summary>How often the workloads names point at are asked again.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);

    private readonly RouteTable _table = new();
    private readonly GatewayHealthReports _health = new(TimeSpan.FromMinutes(2));
    private GatewayRoutes _routes = GatewayRoutes.Empty;
    private string _fingerprint = "";
    private WriteCoalescer? _writer;

    private WriteCoalescer Writer => _writer ??= new WriteCoalescer(() => state.WriteOrDeactivateAsync(this));

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        state.State.Incarnation++;
        await state.WriteStateAsync(cancellationToken);
        _routes = new GatewayRoutes(state.State.Incarnation << 32, []);
        foreach (var name in state.State.Names.Values)
        {
            _table.SetName(name);
        }

        await LoadAsync(_table.ReferencedWorkloads);
        Rebuild(force: true);
        this.RegisterGrainTimer(RefreshAsync, new GrainTimerCreationOptions(RefreshInterval, RefreshInterval) { Interleave = true, KeepAlive = true });
    }

    public async Task SetNameAsync(NameDefinition name)
    {
        _table.SetName(name);
        state.State.Names[name.Name] = _table.Names[name.Name];
        await Writer.WriteAsync();
        await LoadAsync(_table.UnknownWorkloads);
        Rebuild();
    }

    public async Task RemoveNameAsync(string name, long claim)
    {
        if (!_table.RemoveName(name, claim))
        {
            return;
        }

        state.State.Names.Remove(name);
        _health.Forget(name);
        _table.ForgetUnreferenced();
        Rebuild();
        await Writer.WriteAsync();
    }

    public Task WorkloadChangedAsync(WorkloadInfo workload)
    {
        if (_table.ReferencedWorkloads.Contains(workload.WorkloadId))
        {
            _table.SetWorkload(workload);
            Rebuild();
        }

        return Task.CompletedTask;
    }

    public Task<GatewayRoutes?> SyncAsync(long nodeId, long knownVersion, ImmutableArray<DestinationHealth>? health)
    {
        _health.Heard(nodeId, clock.UtcNow, health);
        return Task.FromResult(knownVersion == _routes.Version ? null : _routes);
    }

    public Task<ImmutableArray<NameDefinition>> ListAsync(long twinId) =>
        Task.FromResult<ImmutableArray<NameDefinition>>([.. _table.Names.Values.Where(n => n.TwinId == twinId).OrderBy(n => n.Name, StringComparer.Ordinal)]);

    public Task<ImmutableArray<DestinationHealth>> HealthAsync(string name) => Task.FromResult(_health.Of(name));

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        _health.ForgetSilent(clock.UtcNow);
        await LoadAsync(_table.ReferencedWorkloads);
        Rebuild();
    }

    private async Task LoadAsync(ImmutableArray<long> workloadIds)
    {
        var infos = await Task.WhenAll(workloadIds.Select(async id =>
        {
            try
            {
                return await GrainFactory.GetGrain<IWorkloadGrain>(id).GetAsync();
            }
            catch (Exception e)
            {
                // Asked again at the next refresh; the route keeps what it had meanwhile.
                LogLoadFailed(logger, e, id);
                return null;
            }
        }));
        foreach (var info in infos.OfType<WorkloadInfo>())
        {
            _table.SetWorkload(info);
        }
    }

    /// <summary>Builds the routes; a new version when they differ, and every gateway node is told.</summary>
    private void Rebuild(bool force = false)
    {
        var routes = _table.Build(options.Value);
        var fingerprint = RouteTable.Fingerprint(routes);
        if (!force && fingerprint == _fingerprint)
        {
            return;
        }

        _fingerprint = fingerprint;
        _routes = new GatewayRoutes(_routes.Version + 1, routes);
        LogRoutesChanged(logger, _routes.Version, routes.Length);
        foreach (var node in _health.Gateways(clock.UtcNow))
        {
            // One-way: a gateway that misses it syncs the new version with its next heartbeat.
            GrainFactory.GetGrain<INodeGrain>(node).RoutesChangedAsync(_routes.Version).Ignore();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Gateway routes: workload {WorkloadId} could not be read")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, long workloadId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Gateway routes version {Version}: {Count} names")]
    private static partial void LogRoutesChanged(ILogger logger, long version, int count);
}
