using System.Collections.Immutable;
using Grid.Grains;
using Grid.Ledger;
using Grid.Scheduling;
using Grid.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace Grid.Nodes;

/// <summary>
/// The authority on one node's capacity. Every allocation is keyed by reservation and epoch and written
/// before it is acknowledged; heartbeats touch only soft state unless the status changes. The grain is
/// reentrant so concurrent allocations share writes (group commit): its calls interleave at every await, so
/// each check-and-change is one synchronous call of <see cref="NodeCapacity"/> made before the call's first
/// await, and interleaving never sees half a change. The grain orchestrates: the ledger, the agent's long-poll
/// (<see cref="DesiredWatch"/>), summaries (<see cref="NodeSummaryPublisher"/>), report forwarding and the orphan
/// sweep are their own types.
/// </summary>
[Reentrant]
public sealed partial class NodeGrain(
    [PersistentState("node", GridStorage.Name)] IPersistentState<NodeState> state,
    GridClock clock,
    IOptions<GridHealthOptions> health,
    IOptions<GridIndexOptions> index,
    CapacityView view,
    EvacuationQueue evacuations,
    LedgerRecorder ledger,
    GridMetrics metrics,
    ILogger<NodeGrain> logger) : Grain, INodeGrain
{
    private readonly DesiredWatch _watch = new();
    private readonly NodePullCredentials _credentials = new();
    private GatewayLink? _gateway;
    private DateTimeOffset? _lastHeartbeat;
    private long _uptime;
    private NodeCapacity? _allocations;
    private NodeOrphanCheck? _orphans;
    private NodeQuarantine? _quarantine; // NodeGrain.Marketplace.cs; made at a node's first failure of its own
    private EvacuationPacing? _evacuation; // made at its first evacuation (a grid's nodes rarely have one: 100k × 72 B)
    private NodeSummaryPublisher? _summaries;
    private WorkloadReportForwarder? _reports;
    private IFarmGrain? _farm;
    private WriteCoalescer? _writer;

    private long NodeId => this.GetPrimaryKeyLong();

    private WriteCoalescer Writer => _writer ??= new WriteCoalescer(async () =>
    {
        await state.WriteOrDeactivateAsync(this);

        // Every durable change may change what the agent should run: its long-poll answers at once.
        _watch.Changed();
    });

    /// <summary>The ledger over the durable allocations, built again when a registration replaces the state.</summary>
    private NodeCapacity Allocations => _allocations is { } held && held.IsOver(state.State.Allocations, state.State.ImageCacheSru())
        ? held
        : _allocations = state.State.Ledger();

    private EvacuationPacing Evacuation => _evacuation ??= new(health.Value.EvacuationRecheck);

    private NodeSummaryPublisher Summaries =>
        _summaries ??= new(NodeId, view, GrainFactory.GetGrain<ICapacityIndexGrain>(index.Value.ShardOf(NodeId)));

    private WorkloadReportForwarder Reports => _reports ??= new(NodeId, GrainFactory, logger);

    private NodeOrphanCheck Orphans => _orphans ??= new(NodeId, clock, health.Value.OrphanCheckInterval, GrainFactory, logger);

    private GatewayLink Gateway => _gateway ??= new(NodeId, GrainFactory, _watch);

    private IFarmGrain Farm => _farm ??= GrainFactory.GetGrain<IFarmGrain>(state.State.Registration!.FarmId);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        Orphans.Defer(clock.UtcNow);
        if (state.State.Registration is not null)
        {
            // Summary versions must only grow, whichever silo (and clock) hosts the node next: each activation
            // takes a new incarnation, durably, and counts within it.
            state.State.Incarnation++;
            await state.WriteStateAsync(cancellationToken);
            StartIncarnation();

            // The index is soft state: an activation refreshes it.
            PublishSummary();
            await _credentials.LoadAsync(GrainFactory, Allocations.Allocations);
        }
    }

    public async Task<NodeInfo> RegisterAsync(NodeRegistration registration, double cpuOvercommit)
    {
        if (state.State.Registration is not null)
        {
            // The same registration again is its flow retried (the farm lists the node first): idempotent.
            return state.State.Registration == registration
                ? Info()
                : throw new GridRequestException(409, "Node exists", $"Node {NodeId} is already registered.");
        }

        state.State = new NodeState
        {
            Registration = registration,
            CpuOvercommit = cpuOvercommit,
            CreatedAt = clock.UtcNow,
            Incarnation = 1,
        };
        StartIncarnation();
        await Writer.WriteAsync();
        await ledger.RecordAsync(LedgerEvents.NodeRegistered(NodeId, registration));
        await Summaries.AddAsync(Summary());
        return Info();
    }

    public Task<NodeInfo?> GetAsync() => Task.FromResult(state.State.Registration is null ? null : Info());

    public Task<NodeSummary?> GetSummaryAsync() => Task.FromResult(state.State.Registration is null ? null : Summary());

    public Task<bool> VerifyKeyAsync(string nodeKeyHash) =>
        Task.FromResult(state.State.Registration is { } r && Twins.KeyHash.FixedTimeEquals(r.NodeKeyHash, nodeKeyHash));

    public Task<string?> GetPublicKeyAsync() => Task.FromResult(state.State.Registration?.PublicKey);

    public Task<DateTimeOffset?> GetLastHeartbeatAsync() => Task.FromResult(_lastHeartbeat);

    public async Task<AllocationResult> TryAllocateAsync(AllocationRequest request) => (await TryAllocateManyAsync([request]))[0];

    public async Task<ImmutableArray<AllocationResult>> TryAllocateManyAsync(ImmutableArray<AllocationRequest> requests)
    {
        // Pull credentials stay in memory: the allocations written below hold the assignments without them.
        requests = _credentials.Keep(requests);
        if (state.State.Registration is null || !state.State.IsSchedulable(clock.UtcNow))
        {
            // Never registered (or a stale id): nothing to place on and no summary to give; else not placeable now.
            var unavailable = new AllocationResult(AllocationOutcome.NodeNotAvailable, [], state.State.Registration is null ? null : Summary());
            return [.. requests.Select(_ => unavailable)];
        }

        // One synchronous check-and-take before the first await: a call interleaving at an await below already
        // sees the capacity as taken.
        var claim = Allocations.TryAllocate(requests, clock.UtcNow, state.State.RentedBy);
        foreach (var retry in claim.Retries)
        {
            // A retry: it may still be in flight for the first caller, so answer once it is durable.
            Orphans.Retried(requests[retry].ReservationId, requests[retry].Epoch);
        }

        try
        {
            await claim.TakeIpsAsync(Allocations, taken => Farm.AllocateIpsAsync(taken.ReservationId, taken.Epoch, taken.Resources.Ipv4));
            if (claim.Taken.Count > 0 || claim.Retries.Count > 0)
            {
                await Writer.WriteAsync();
            }
        }
        catch
        {
            // Addresses the farm handed out stay tagged to the reservation: the farm's leak check frees them
            // on the reservation's word, as an address is never freed on a guess (the write may have landed).
            Allocations.Undo(claim);
            throw;
        }

        var summary = Summary();
        if (claim.Taken.Count > 0)
        {
            PublishSummary(summary);
        }

        return claim.Answer(requests, Allocations, summary);
    }

    public Task ReleaseAsync(long reservationId, long epoch) => ReleaseAsync([new HeldPlacement(reservationId, epoch)], freeIps: true);

    public Task ReleaseManyAsync(ImmutableArray<HeldPlacement> placements) => ReleaseAsync(placements, freeIps: true);

    /// <summary>
    /// Drops allocations held at the given epochs or older, in one write. Their addresses go back to the farm only
    /// when the reservation itself let go of this placement (cancel, a completed move); an orphan's addresses are left
    /// to the farm's leak check, since a retried placement of the same epoch on another node of the farm may be
    /// holding them now.
    /// </summary>
    private async Task ReleaseAsync(ImmutableArray<HeldPlacement> placements, bool freeIps)
    {
        var released = Allocations.Release(placements);
        if (released.Count == 0)
        {
            return;
        }

        try
        {
            await Writer.WriteAsync();
        }
        catch
        {
            Allocations.UndoRelease(released);
            throw;
        }

        await ForgetReleasedAsync(released, freeIps);
        PublishSummary();
    }

    /// <summary>After a durable release: what the activation kept of each allocation goes, and (<paramref name="freeIps"/>) its addresses.</summary>
    private async Task ForgetReleasedAsync(List<(Allocation Allocation, long Epoch)> released, bool freeIps)
    {
        foreach (var (allocation, _) in released)
        {
            Orphans.Forget(allocation);
            Reports.Forget(allocation);
            _credentials.Forget(allocation);
        }

        foreach (var (allocation, epoch) in released)
        {
            if (freeIps && !allocation.PublicIps.IsEmpty && state.State.Registration is not null)
            {
                await Farm.ReleaseIpsAsync(allocation.ReservationId, epoch);
            }
        }
    }

    public async Task<bool> SetWorkloadsAsync(long reservationId, long epoch, ImmutableArray<WorkloadAssignment> workloads)
    {
        if (Allocations.SetWorkloads(reservationId, epoch, _credentials.Keep(workloads)) is not { } change)
        {
            return false;
        }

        try
        {
            await Writer.WriteAsync();
        }
        catch
        {
            Allocations.Restore(reservationId, change.Updated, change.Previous);
            throw;
        }

        // The summary counts the node's workloads (the grid proxy's workloads_number).
        PublishSummary();
        return true;
    }

    public async Task<HeartbeatResponse> HeartbeatAsync(Heartbeat heartbeat)
    {
        var now = clock.UtcNow;
        _lastHeartbeat = now;
        _uptime = heartbeat.Uptime;
        metrics.Heartbeat();
        await Summaries.BeatAsync(now);
        var featuresChanged = state.State.ChangeReported(heartbeat) | ChangeDevices(heartbeat);
        if (state.State.Status != NodeStatus.Up)
        {
            await SetStatusAsync(NodeStatus.Up, now);
        }
        else if (featuresChanged)
        {
            // What the node can run and the SSD its image cache holds filter placement: durable and in the index at once.
            await Writer.WriteAsync();
            PublishSummary();
        }

        Orphans.RunWhenDue(now, Allocations, held => ReleaseAsync([held], freeIps: false));
        var taken = await Reports.ForwardAsync(heartbeat.Workloads, Allocations);
        taken &= await ObserveFailuresAsync(heartbeat, now);
        var reportsAcknowledged = Reports.Acknowledge(heartbeat, taken);
        var routes = await Gateway.SyncAsync(heartbeat);
        var acknowledged = await Gateway.ApplyTrafficAsync(heartbeat, state.State, Writer.WriteAsync);
        var desired = _credentials.Attach(Allocations.Desired());
        var (version, unchanged) = _watch.Answer(desired, heartbeat.DesiredVersion);
        return state.State.Answer(unchanged ? [] : desired, health.Value, version) with
        {
            DesiredUnchanged = unchanged,
            Routes = routes,
            TrafficAcknowledged = acknowledged,
            Notices = _notices.Current(now),
            ReportsAcknowledged = reportsAcknowledged,
        };
    }

    public Task<RentLockAnswer> SetRenterAsync(long? twinId, long contractId) =>
        NodeRentLock.ApplyAsync(state.State, Allocations, twinId, contractId, Writer.WriteAsync, () => Summaries.Published(Summary()));

    public Task RoutesChangedAsync(long version)
    {
        Gateway.Changed(version);
        return Task.CompletedTask;
    }

    public async Task<DesiredWorkloads> WatchDesiredAsync(long knownVersion, TimeSpan maxWait)
    {
        if (state.State.Registration is not null)
        {
            await _watch.WaitAsync(knownVersion, maxWait);
        }

        var desired = _credentials.Attach(Allocations.Desired());
        return new DesiredWorkloads(_watch.Answer(desired, null).Version, desired);
    }

    public async Task MarkDownAsync(DateTimeOffset lastHeartbeat)
    {
        if (state.State.Status == NodeStatus.Down)
        {
            // Asked again: the shard missed the change (the silo died before publishing) or the moves were lost.
            PublishSummary();
            await ResumeEvacuationAsync();
            return;
        }

        // A heartbeat that arrived after the shard's scan wins: the node is alive.
        if (_lastHeartbeat is { } seen && seen > lastHeartbeat)
        {
            return;
        }

        // Kept with the down status: a resumed evacuation (after a silo loss) stops meters here too.
        state.State.LastHeartbeatAtDown = lastHeartbeat;
        await SetStatusAsync(NodeStatus.Down, clock.UtcNow);

        // A heartbeat that arrived while the down status was being written wins as well: it has set the node up
        // again (subject to the rejoin delay), so its reservations stay where they are.
        if (state.State.Status != NodeStatus.Down || (_lastHeartbeat is { } late && late > lastHeartbeat))
        {
            LogDownOverruled(logger, NodeId);
            return;
        }

        metrics.NodeDeclaredDown(clock.UtcNow - lastHeartbeat);
        EvacuateAll(makeBeforeBreak: false, lastHeartbeat: lastHeartbeat);
    }

    public Task ResumeEvacuationAsync()
    {
        if (state.State.Registration is null || Allocations.Count == 0 || !state.State.IsEvacuating() || !Evacuation.TryResume(clock.UtcNow))
        {
            return Task.CompletedTask;
        }

        LogResumingEvacuation(logger, NodeId, Allocations.Count, state.State.Status);
        EvacuateAll(makeBeforeBreak: state.State.Status != NodeStatus.Down, resumed: true, lastHeartbeat: state.State.EvacuationHeartbeat(_lastHeartbeat));
        return Task.CompletedTask;
    }

    public async Task SetDrainingAsync(bool draining, int maxParallel)
    {
        state.State.Draining = draining;
        state.State.DrainMaxParallel = Math.Max(1, maxParallel);
        await Writer.WriteAsync();
        LogDraining(logger, NodeId, draining, maxParallel);
        PublishSummary();
        if (draining)
        {
            EvacuateAll(makeBeforeBreak: true);
        }
    }

    private void EvacuateAll(bool makeBeforeBreak, bool resumed = false, DateTimeOffset? lastHeartbeat = null)
    {
        if (state.State.Evacuation(NodeId, makeBeforeBreak, resumed, lastHeartbeat) is { } batch)
        {
            Evacuation.Started(evacuations.Enqueue(batch), clock.UtcNow, resumed);
        }
    }

    private async Task SetStatusAsync(NodeStatus status, DateTimeOffset now)
    {
        var previous = state.State.Status;
        if (state.State.ChangeStatus(status, now, health.Value.RejoinAfter))
        {
            Summaries.PublishAfter(this, health.Value.RejoinAfter + TimeSpan.FromMilliseconds(50), Summary);
        }

        _evacuation?.Reset();
        await Writer.WriteAsync();
        if (status == NodeStatus.Up && previous == NodeStatus.Down && state.State.Status == NodeStatus.Up)
        {
            // Reservations that could not leave (pinned, or nothing else fit) are served here again — told only
            // once the node's return is durable.
            _ = ReturnNotice.TellAsync(GrainFactory, NodeId, [.. Allocations.ReservationIds], () => state.State.Status == NodeStatus.Up);
        }

        if (status is NodeStatus.Up or NodeStatus.Down)
        {
            // Not awaited: heartbeats and evacuations must not wait on the ledger; a failed append is logged.
            _ = ledger.RecordAsync(LedgerEvents.NodeStatus(NodeId, status == NodeStatus.Up, now,
                status == NodeStatus.Down ? state.State.LastHeartbeatAtDown ?? _lastHeartbeat : _lastHeartbeat));
            NodeRentLock.TellStatus(GrainFactory, NodeId, state.State, now, state.State.LastHeartbeatAtDown ?? _lastHeartbeat);
        }

        metrics.NodeStatusChanged(NodeId, status);
        LogStatusChanged(logger, NodeId, previous, status);
        PublishSummary();
    }

    private void PublishSummary(NodeSummary? summary = null) => Summaries.Publish(summary ?? Summary());

    /// <summary>Versions of this activation (summaries and the agent's watch): above every earlier incarnation's.</summary>
    private void StartIncarnation() => _watch.Start(Summaries.StartIncarnation(state.State.Incarnation));

    private NodeSummary Summary() => Summaries.Next(state.State, Allocations, _lastHeartbeat?.AddSeconds(-_uptime), RecentFailures());

    private NodeInfo Info() => state.State.Info(NodeId, Allocations, _lastHeartbeat, _uptime, RecentFailures());
}
