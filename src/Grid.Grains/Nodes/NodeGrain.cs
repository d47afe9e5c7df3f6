using System.Collections.Concurrent;
using System.Collections.Immutable;
using Grid.Grains;
using Grid.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Grid.Scheduling;
using Grid.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace Grid.Nodes;

/// <summary>
/// The authority on one node's capacity. Every allocation is keyed by reservation and epoch and written
/// before it is acknowledged; heartbeats touch only soft state unless the status changes. The grain is
/// reentrant so concurrent allocations share writes (group commit): every check-and-change happens before
/// the call's first await, so interleaving never sees half a change.
/// </summary>
[Reentrant]
public sealed partial class NodeGrain(
    [PersistentState("node", GridStorage.Name)] IPersistentState<NodeState> state,
    GridClock clock,
    IOptions<GridHealthOptions> health,
    IOptions<GridIndexOptions> index,
    CapacityView view,
    EvacuationQueue evacuations,
    GridMetrics metrics,
    ILogger<NodeGrain> logger) : Grain, INodeGrain
{
    private readonly Dictionary<long, (long Epoch, WorkloadState State, int Restarts)> _reported = [];
    private readonly HashSet<(long ReservationId, long Epoch)> _confirmed = [];
    private DateTimeOffset? _lastHeartbeat;
    private DateTimeOffset _nextOrphanCheck;
    private Task? _orphanCheck;
    private long _uptime;
    private long _version;

    /// <summary>The version of the last summary handed to the shard; each heartbeat tells it, so a lost update is noticed.</summary>
    private long _publishedVersion;
    private long _desiredVersion;
    private TaskCompletionSource _desiredChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _evacuation;
    private DateTimeOffset _nextEvacuation;
    private TimeSpan _evacuationBackoff;
    private ICapacityIndexGrain? _shard;
    private IFarmGrain? _farm;
    private WriteCoalescer? _writer;

    private const int IncarnationShift = 32;
    private static readonly TimeSpan MaxWatch = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan MaxEvacuationBackoff = TimeSpan.FromSeconds(60);

    private long NodeId => this.GetPrimaryKeyLong();

    private WriteCoalescer Writer => _writer ??= new WriteCoalescer(async () =>
    {
        await state.WriteOrDeactivateAsync(this);

        // Every durable change may change what the agent should run: its long-poll answers at once.
        DesiredChanged();
    });

    // Resolved once: GetGrain takes a lock inside Orleans and showed up in placement profiles.
    private ICapacityIndexGrain Shard => _shard ??= GrainFactory.GetGrain<ICapacityIndexGrain>(index.Value.ShardOf(NodeId));

    private IFarmGrain Farm => _farm ??= GrainFactory.GetGrain<IFarmGrain>(state.State.Registration!.FarmId);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _nextOrphanCheck = clock.UtcNow + health.Value.OrphanCheckInterval;
        if (state.State.Registration is not null)
        {
            // Summary versions must only grow, whichever silo (and clock) hosts the node next: each activation
            // takes a new incarnation, durably, and counts within it.
            state.State.Incarnation++;
            await state.WriteStateAsync(cancellationToken);
            StartIncarnation();

            // The index is soft state: an activation refreshes it.
            PublishSummary();
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
        await ServiceProvider.GetRequiredService<LedgerRecorder>().RecordAsync(LedgerEvents.NodeRegistered(NodeId, registration));
        var summary = Summary();
        view.Update(summary);
        await Shard.AddNodeAsync(summary);
        _publishedVersion = summary.Version;
        return Info();
    }

    public Task<NodeInfo?> GetAsync() => Task.FromResult(state.State.Registration is null ? null : Info());

    public Task<NodeSummary?> GetSummaryAsync() =>
        Task.FromResult(state.State.Registration is null ? null : Summary());

    public Task<bool> VerifyKeyAsync(string nodeKeyHash) =>
        Task.FromResult(state.State.Registration is { } r && Twins.KeyHash.FixedTimeEquals(r.NodeKeyHash, nodeKeyHash));

    public Task<string?> GetPublicKeyAsync() => Task.FromResult(state.State.Registration?.PublicKey);

    public Task<DateTimeOffset?> GetLastHeartbeatAsync() => Task.FromResult(_lastHeartbeat);

    public async Task<AllocationResult> TryAllocateAsync(AllocationRequest request) => (await TryAllocateManyAsync([request]))[0];

    public async Task<ImmutableArray<AllocationResult>> TryAllocateManyAsync(ImmutableArray<AllocationRequest> requests)
    {
        if (state.State.Registration is not { } registration)
        {
            // Never registered (or a stale id): nothing to place on and no summary to give.
            return [.. requests.Select(_ => new AllocationResult(AllocationOutcome.NodeNotAvailable, [], null))];
        }

        if (!IsSchedulable())
        {
            var unavailable = new AllocationResult(AllocationOutcome.NodeNotAvailable, [], Summary());
            return [.. requests.Select(_ => unavailable)];
        }

        // Every check-and-change happens before the first await: this grain is reentrant (writes are
        // group-committed), so a call interleaving at an await already sees the capacity as taken.
        var results = new AllocationResult?[requests.Length];
        var taken = new List<(int Index, Allocation Allocation, Allocation? Existing)>();
        var retries = new List<int>();
        var allocations = state.State.Allocations;
        var used = Used();
        for (var i = 0; i < requests.Length; i++)
        {
            var request = requests[i];
            allocations.TryGetValue(request.ReservationId, out var existing);
            if (existing is not null && existing.Epoch == request.Epoch)
            {
                // A retry: it may still be in flight for the first caller, so answer once it is durable.
                _confirmed.Add((existing.ReservationId, existing.Epoch));
                retries.Add(i);
                continue;
            }

            if (request.AntiAffinityGroup is { } group && allocations.Values.Any(a =>
                    a.ReservationId != request.ReservationId && a.TwinId == request.TwinId && a.AntiAffinityGroup == group))
            {
                results[i] = new(AllocationOutcome.AntiAffinity, [], null);
                continue;
            }

            // An older epoch of the same reservation on this node is replaced, so its capacity counts as free.
            var free = CapacityMath.Free(registration.Resources, used - (existing?.Resources ?? Capacity.Zero), state.State.CpuOvercommit);
            if (CapacityMath.FirstShortfall(free, request.Resources) is { } shortfall)
            {
                results[i] = new(AllocationOutcome.InsufficientCapacity, [], null, shortfall);
                continue;
            }

            var allocation = new Allocation(
                request.ReservationId, request.Epoch, request.TwinId, request.Resources, [],
                request.AntiAffinityGroup, request.Workloads, clock.UtcNow);
            allocations[request.ReservationId] = allocation;
            used = used - (existing?.Resources ?? Capacity.Zero) + request.Resources;
            taken.Add((i, allocation, existing));
        }

        try
        {
            for (var t = 0; t < taken.Count; t++)
            {
                var (index, allocation, existing) = taken[t];
                if (allocation.Resources.Ipv4 <= 0)
                {
                    continue;
                }

                if (await Farm.AllocateIpsAsync(allocation.ReservationId, allocation.Epoch, allocation.Resources.Ipv4) is not { } ips)
                {
                    RestoreAllocation(allocation.ReservationId, allocation, existing);
                    taken.RemoveAt(t--);
                    results[index] = new(AllocationOutcome.InsufficientIpv4, [], null, CapacityUnit.Ipv4);
                    continue;
                }

                var withIps = allocation with { PublicIps = ips };
                allocations[allocation.ReservationId] = withIps;
                taken[t] = (index, withIps, existing);
            }

            if (taken.Count > 0 || retries.Count > 0)
            {
                await Writer.WriteAsync();
            }
        }
        catch
        {
            // Addresses the farm handed out stay tagged to the reservation: the farm's leak check frees them
            // on the reservation's word, as an address is never freed on a guess (the write may have landed).
            foreach (var (_, allocation, existing) in taken)
            {
                RestoreAllocation(allocation.ReservationId, allocation, existing);
            }

            throw;
        }

        var summary = Summary();
        if (taken.Count > 0)
        {
            PublishSummary(summary);
        }

        foreach (var (index, allocation, _) in taken)
        {
            results[index] = new(AllocationOutcome.Allocated, allocation.PublicIps, summary);
        }

        foreach (var index in retries)
        {
            var request = requests[index];
            results[index] = allocations.TryGetValue(request.ReservationId, out var held) && held.Epoch == request.Epoch
                ? new(AllocationOutcome.Allocated, held.PublicIps, summary)
                : new(AllocationOutcome.NodeNotAvailable, [], summary);
        }

        return [.. results.Select(r => r!.Summary is null ? r with { Summary = summary } : r)];
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
        var released = new List<(Allocation Allocation, long Epoch)>(placements.Length);
        foreach (var held in placements)
        {
            if (state.State.Allocations.TryGetValue(held.ReservationId, out var allocation) && allocation.Epoch <= held.Epoch)
            {
                state.State.Allocations.Remove(held.ReservationId);
                released.Add((allocation, held.Epoch));
            }
        }

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
            foreach (var (allocation, _) in released)
            {
                RestoreAllocation(allocation.ReservationId, null, allocation);
            }

            throw;
        }

        foreach (var (allocation, _) in released)
        {
            _confirmed.Remove((allocation.ReservationId, allocation.Epoch));
            foreach (var workload in allocation.Workloads)
            {
                _reported.Remove(workload.WorkloadId);
            }
        }

        foreach (var (allocation, epoch) in released)
        {
            if (freeIps && !allocation.PublicIps.IsEmpty && state.State.Registration is not null)
            {
                await Farm.ReleaseIpsAsync(allocation.ReservationId, epoch);
            }
        }

        PublishSummary();
    }

    public async Task<bool> SetWorkloadsAsync(long reservationId, long epoch, ImmutableArray<WorkloadAssignment> workloads)
    {
        if (!state.State.Allocations.TryGetValue(reservationId, out var allocation) || allocation.Epoch != epoch)
        {
            return false;
        }

        var updated = allocation with { Workloads = workloads };
        state.State.Allocations[reservationId] = updated;
        try
        {
            await Writer.WriteAsync();
        }
        catch
        {
            RestoreAllocation(reservationId, updated, allocation);
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
        await Shard.BeatAsync(NodeId, now, _publishedVersion);

        if (state.State.Status != NodeStatus.Up)
        {
            await SetStatusAsync(NodeStatus.Up, now);
        }

        CheckOrphansWhenDue(now);
        await ForwardReportsAsync(heartbeat.Workloads);
        return new HeartbeatResponse(VisibleStatus(), state.State.Draining, Desired())
        {
            HeartbeatIntervalMs = (long)health.Value.HeartbeatInterval.TotalMilliseconds,
            HeartbeatTimeoutMs = (long)health.Value.HeartbeatTimeout.TotalMilliseconds,
            DesiredVersion = _desiredVersion,
        };
    }

    public async Task<DesiredWorkloads> WatchDesiredAsync(long knownVersion, TimeSpan maxWait)
    {
        if (knownVersion == _desiredVersion && state.State.Registration is not null)
        {
            var changed = _desiredChanged.Task;
            await Task.WhenAny(changed, Task.Delay(maxWait < MaxWatch ? maxWait : MaxWatch));
        }

        return new DesiredWorkloads(_desiredVersion, Desired());
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
        var down = state.State.Status == NodeStatus.Down;
        if (state.State.Registration is null || state.State.Allocations.Count == 0 || _evacuation is { IsCompleted: false }
            || (!down && !state.State.Draining))
        {
            return Task.CompletedTask;
        }

        // A fresh activation (the silo that ran the moves is gone) starts at once; then the checks back off while
        // allocations stay (pinned reservations wait for their node, unschedulable ones retry on their own).
        var now = clock.UtcNow;
        if (now < _nextEvacuation)
        {
            return Task.CompletedTask;
        }

        var recheck = health.Value.EvacuationRecheck;
        _evacuationBackoff = _evacuationBackoff < recheck ? recheck
            : _evacuationBackoff * 2 < MaxEvacuationBackoff ? _evacuationBackoff * 2 : MaxEvacuationBackoff;
        _nextEvacuation = now + _evacuationBackoff;
        LogResumingEvacuation(logger, NodeId, state.State.Allocations.Count, state.State.Status);
        // The meter of a reservation still on the lost node stops at its last heartbeat, also after a silo loss.
        EvacuateAll(makeBeforeBreak: !down, resumed: true,
            lastHeartbeat: down ? state.State.LastHeartbeatAtDown ?? _lastHeartbeat ?? state.State.StatusChangedAt : null);
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
        if (state.State.Registration is not { } registration || state.State.Allocations.Count == 0)
        {
            return;
        }

        if (!resumed)
        {
            // The shard's checks resume the moves only if this run is lost (silo gone) or leaves some behind.
            _nextEvacuation = clock.UtcNow + health.Value.EvacuationRecheck;
        }

        _evacuation = evacuations.Enqueue(new EvacuationBatch(
            NodeId,
            registration.FarmId,
            registration.Location.Country,
            [.. state.State.Allocations.Keys],
            makeBeforeBreak,
            makeBeforeBreak ? state.State.DrainMaxParallel : 0,
            resumed,
            lastHeartbeat));
    }

    /// <summary>
    /// Tells held reservations the node is back, retrying those whose call failed (a silo failover drops calls):
    /// a lost tell would leave a pinned reservation lost, or an unschedulable one waiting for its reminder.
    /// </summary>
    private async Task TellReturnedAsync(long[] reservationIds)
    {
        for (var attempt = 1; reservationIds.Length > 0 && state.State.Status == NodeStatus.Up; attempt++)
        {
            var failed = new ConcurrentBag<long>();
            await Task.WhenAll(reservationIds.Select(async id =>
            {
                try
                {
                    await GrainFactory.GetGrain<IReservationGrain>(id).NodeReturnedAsync(NodeId);
                }
                catch (Exception)
                {
                    failed.Add(id);
                }
            }));
            if (failed.IsEmpty || attempt == 10)
            {
                return;
            }

            reservationIds = [.. failed];
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 5)));
        }
    }

    private async Task SetStatusAsync(NodeStatus status, DateTimeOffset now)
    {
        var previous = state.State.Status;
        state.State.Status = status;
        state.State.StatusChangedAt = now;
        if (status == NodeStatus.Down)
        {
            state.State.HasBeenDown = true;
        }
        else if (status == NodeStatus.Up && state.State.HasBeenDown)
        {
            state.State.RejoinAt = now + health.Value.RejoinAfter;
            RegisterRejoinRefresh();
        }

        _evacuationBackoff = TimeSpan.Zero;
        await Writer.WriteAsync();
        if (status == NodeStatus.Up && previous == NodeStatus.Down && state.State.Status == NodeStatus.Up)
        {
            // Reservations that could not leave (pinned, or nothing else fit) are served here again — told only
            // once the node's return is durable.
            _ = TellReturnedAsync([.. state.State.Allocations.Keys]);
        }

        if (status is NodeStatus.Up or NodeStatus.Down)
        {
            // Not awaited: heartbeats and evacuations must not wait on the ledger; a failed append is logged.
            _ = ServiceProvider.GetRequiredService<LedgerRecorder>().RecordAsync(LedgerEvents.NodeStatus(NodeId, status == NodeStatus.Up, now,
                status == NodeStatus.Down ? state.State.LastHeartbeatAtDown ?? _lastHeartbeat : _lastHeartbeat));
        }

        metrics.NodeStatusChanged(NodeId, status);
        LogStatusChanged(logger, NodeId, previous, status);
        PublishSummary();
    }

    private void RegisterRejoinRefresh()
    {
        // When the hysteresis ends the index must learn the node takes placements again.
        var due = health.Value.RejoinAfter + TimeSpan.FromMilliseconds(50);
        this.RegisterGrainTimer(_ =>
        {
            PublishSummary();
            return Task.CompletedTask;
        }, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { Interleave = true });
    }

    private async Task ForwardReportsAsync(ImmutableArray<WorkloadReport> reports)
    {
        if (reports.IsDefaultOrEmpty)
        {
            return;
        }

        var current = state.State.Allocations.Values
            .SelectMany(a => a.Workloads)
            .ToDictionary(w => w.WorkloadId, w => w.Epoch);
        var forwarded = new List<(WorkloadReport Report, Task<bool> Accepted)>();
        foreach (var report in reports)
        {
            // Reports of copies this node should not run (older epoch, unknown) are not forwarded: the
            // desired list in the answer tells the agent to stop them.
            if (!current.TryGetValue(report.WorkloadId, out var epoch) || epoch != report.Epoch)
            {
                continue;
            }

            if (_reported.TryGetValue(report.WorkloadId, out var last) && last == (report.Epoch, report.State, report.Restarts))
            {
                continue;
            }

            forwarded.Add((report, GrainFactory.GetGrain<IWorkloadGrain>(report.WorkloadId).ReportAsync(NodeId, report)));
        }

        foreach (var (report, accepted) in forwarded)
        {
            try
            {
                // Remembered only once accepted, so a report that raced ahead of the placement is sent again.
                if (await accepted)
                {
                    _reported[report.WorkloadId] = (report.Epoch, report.State, report.Restarts);
                }
            }
            catch (Exception exception)
            {
                // One workload grain out of reach (its silo failing over, its storage) must not fail the node's
                // heartbeat: the agent would take a healthy node for disconnected and fence it. Sent again next time.
                LogReportFailed(logger, exception, NodeId, report.WorkloadId);
            }
        }
    }

    /// <summary>
    /// Allocations whose reservation no longer points here (a crash between allocation and the reservation's
    /// write) are released. Checked on heartbeats, at most once per interval, so there is no timer per node; a
    /// silent node's orphans wait for it to return, and its capacity is not placed on meanwhile anyway.
    /// </summary>
    private void CheckOrphansWhenDue(DateTimeOffset now)
    {
        if (now < _nextOrphanCheck || _orphanCheck is { IsCompleted: false })
        {
            return;
        }

        _nextOrphanCheck = now + health.Value.OrphanCheckInterval;

        // Not awaited: the heartbeat's answer does not wait on the reservations asked.
        _orphanCheck = ReleaseOrphansAsync();
    }

    private async Task ReleaseOrphansAsync()
    {
        try
        {
            await ReleaseOrphansCoreAsync();
        }
        catch (Exception exception)
        {
            // Storage or a reservation out of reach: the next check retries.
            LogOrphanCheckFailed(logger, exception, NodeId);
        }
    }

    private async Task ReleaseOrphansCoreAsync()
    {
        var cutoff = clock.UtcNow - health.Value.OrphanCheckInterval;
        var unconfirmed = state.State.Allocations.Values
            .Where(a => a.AllocatedAt < cutoff && !_confirmed.Contains((a.ReservationId, a.Epoch)))
            .ToList();
        foreach (var allocation in unconfirmed)
        {
            var reservation = GrainFactory.GetGrain<IReservationGrain>(allocation.ReservationId);
            if (await reservation.IsPlacedOnAsync(NodeId, allocation.Epoch))
            {
                // Once confirmed an allocation stays valid until released; checked again only after a re-activation.
                _confirmed.Add((allocation.ReservationId, allocation.Epoch));
            }
            else if (!_confirmed.Contains((allocation.ReservationId, allocation.Epoch))
                && state.State.Allocations.TryGetValue(allocation.ReservationId, out var current) && ReferenceEquals(current, allocation))
            {
                // Still the same entry and no placement retry claimed it while we asked the reservation.
                LogOrphanReleased(logger, NodeId, allocation.ReservationId, allocation.Epoch);
                await ReleaseAsync([new HeldPlacement(allocation.ReservationId, allocation.Epoch)], freeIps: false);
            }
        }
    }

    /// <summary>Undoes a change that did not become durable, unless an interleaved call changed the entry since.</summary>
    private void RestoreAllocation(long reservationId, Allocation? changed, Allocation? previous)
    {
        var allocations = state.State.Allocations;
        allocations.TryGetValue(reservationId, out var current);
        if (!ReferenceEquals(current, changed))
        {
            return;
        }

        if (previous is null)
        {
            allocations.Remove(reservationId);
        }
        else
        {
            allocations[reservationId] = previous;
        }
    }

    private bool IsSchedulable() =>
        state.State.Status == NodeStatus.Up
        && !state.State.Draining
        && (state.State.RejoinAt is not { } rejoin || clock.UtcNow >= rejoin);

    /// <summary>What clients see: a draining node that is up shows as <c>draining</c>.</summary>
    private NodeStatus VisibleStatus() =>
        state.State.Draining && state.State.Status == NodeStatus.Up ? NodeStatus.Draining : state.State.Status;

    private Capacity Used()
    {
        // Summed in place: a node's summary is rebuilt on every allocation, over all of its allocations.
        long cru = 0, mru = 0, sru = 0, hru = 0;
        var ipv4 = 0;
        foreach (var allocation in state.State.Allocations.Values)
        {
            var resources = allocation.Resources;
            (cru, mru, sru, hru, ipv4) = (cru + resources.Cru, mru + resources.Mru, sru + resources.Sru, hru + resources.Hru, ipv4 + resources.Ipv4);
        }

        return new Capacity(cru, mru, sru, hru, ipv4);
    }

    /// <summary>The (twin, group) keys of this node's anti-affinity groups: none for most nodes, without a pass of LINQ.</summary>
    private ImmutableArray<string> AntiAffinityKeys()
    {
        HashSet<string>? keys = null;
        foreach (var allocation in state.State.Allocations.Values)
        {
            if (allocation.AntiAffinityGroup is { } group)
            {
                (keys ??= []).Add(AntiAffinity.Key(allocation.TwinId, group));
            }
        }

        return keys is null ? [] : [.. keys];
    }

    private void PublishSummary(NodeSummary? summary = null)
    {
        summary ??= Summary();
        view.Update(summary);
        _publishedVersion = summary.Version;
        // Not awaited (it would serialize every allocation behind the shard); a lost update is fetched again by the
        // shard at the node's next heartbeat, which carries this version.
        Shard.UpdateAsync(summary).Ignore();
    }

    /// <summary>Versions of this activation: above every version an earlier incarnation can have handed out.</summary>
    private void StartIncarnation()
    {
        _version = state.State.Incarnation << IncarnationShift;
        _desiredVersion = _version;
    }

    private ImmutableArray<WorkloadAssignment> Desired() =>
        [.. state.State.Allocations.Values.SelectMany(a => a.Workloads)];

    private void DesiredChanged()
    {
        _desiredVersion++;
        var changed = _desiredChanged;
        _desiredChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    private NodeSummary Summary()
    {
        var registration = state.State.Registration!;
        _version++;
        var used = Used();
        return new NodeSummary(
            NodeId,
            registration.FarmId,
            registration.TwinId,
            state.State.Status,
            state.State.Draining,
            state.State.RejoinAt,
            registration.Resources,
            CapacityMath.Free(registration.Resources, used, state.State.CpuOvercommit),
            registration.Location,
            registration.Certification,
            AntiAffinityKeys(),
            _version,
            used,
            state.State.CreatedAt,
            state.State.StatusChangedAt,
            _lastHeartbeat?.AddSeconds(-_uptime),
            state.State.Allocations.Count,
            state.State.Allocations.Values.Sum(a => a.Workloads.IsDefault ? 0 : a.Workloads.Length));
    }

    private NodeInfo Info()
    {
        var registration = state.State.Registration!;
        var used = Used();
        return new NodeInfo(
            NodeId,
            registration.FarmId,
            registration.TwinId,
            VisibleStatus(),
            state.State.Draining,
            registration.Location,
            registration.Certification,
            registration.Resources,
            used,
            CapacityMath.Free(registration.Resources, used, state.State.CpuOvercommit),
            [.. state.State.Allocations.Values.OrderBy(a => a.ReservationId)],
            _lastHeartbeat,
            _uptime,
            state.State.CreatedAt,
            state.State.RejoinAt);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} could not forward the report of workload {WorkloadId}")]
    private static partial void LogReportFailed(ILogger logger, Exception exception, long nodeId, long workloadId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} heartbeat arrived while it was declared down: it stays, nothing is moved")]
    private static partial void LogDownOverruled(ILogger logger, long nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} still holds {Count} allocations while {Status}: moving them (again)")]
    private static partial void LogResumingEvacuation(ILogger logger, long nodeId, int count, NodeStatus status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} status {Previous} -> {Status}")]
    private static partial void LogStatusChanged(ILogger logger, long nodeId, NodeStatus previous, NodeStatus status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} draining={Draining} (maxParallel {MaxParallel})")]
    private static partial void LogDraining(ILogger logger, long nodeId, bool draining, int maxParallel);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} could not finish its orphan check")]
    private static partial void LogOrphanCheckFailed(ILogger logger, Exception exception, long nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} released orphan allocation of reservation {ReservationId} epoch {Epoch}")]
    private static partial void LogOrphanReleased(ILogger logger, long nodeId, long reservationId, long epoch);
}
