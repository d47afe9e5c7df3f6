using Grid.Grains;

namespace Grid.Workloads;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.workload")]
public sealed class WorkloadRecord
{
    [Id(0)] public long ReservationId { get; set; }
    [Id(1)] public long TwinId { get; set; }
    [Id(2)] public WorkloadSpec? Spec { get; set; }
    [Id(3)] public WorkloadState State { get; set; }
    [Id(4)] public long? NodeId { get; set; }
    [Id(5)] public long Epoch { get; set; }
    [Id(6)] public int Restarts { get; set; }
    [Id(7)] public string? Message { get; set; }
    [Id(8)] public DateTimeOffset CreatedAt { get; set; }
    [Id(9)] public DateTimeOffset UpdatedAt { get; set; }
    [Id(10)] public string? Reason { get; set; }
    [Id(11)] public string? Digest { get; set; }

    /// <summary>Where its published ports are reached at its current epoch (the node's address and host ports).</summary>
    [Id(12)] public List<WorkloadEndpoint> Endpoints { get; set; } = [];

    /// <summary>The nodes that reported it failed, by reason, over all its placements (<see cref="FailureHistory"/>).</summary>
    [Id(13)] public Dictionary<string, List<long>> FailedOn { get; set; } = [];
}

/// <summary>
/// A workload: desired spec and the state reported by the node running its current epoch. Reports from any
/// other node or epoch are fenced off (a stale copy never changes what the tenant sees). The tail of its output is
/// kept in memory only (<see cref="LogTail"/>).
/// </summary>
public sealed class WorkloadGrain(
    [PersistentState("workload", GridStorage.Name)] IPersistentState<WorkloadRecord> state,
    GridClock clock) : Grain, IWorkloadGrain
{
    private readonly LogTail _logs = new();

    private WorkloadRecord Record => state.State;

    public async Task<WorkloadInfo> CreateAsync(long reservationId, long twinId, WorkloadSpec spec, long? nodeId, long epoch)
    {
        if (Record.Spec is not null)
        {
            return Info();
        }

        var now = clock.UtcNow;
        state.State = new WorkloadRecord
        {
            ReservationId = reservationId,
            TwinId = twinId,
            Spec = spec,
            State = WorkloadState.Deploying,
            NodeId = nodeId,
            Epoch = epoch,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await state.WriteOrDeactivateAsync(this);
        return Info();
    }

    public Task<WorkloadInfo?> GetAsync() => Task.FromResult(Record.Spec is null ? null : Info());

    public async Task PlacedAsync(long? nodeId, long epoch)
    {
        if (Record.Spec is null || Record.State == WorkloadState.Deleted || epoch <= Record.Epoch && nodeId == Record.NodeId)
        {
            return;
        }

        Record.NodeId = nodeId;
        Record.Epoch = epoch;
        Record.State = WorkloadState.Deploying;
        Record.Message = null;
        Record.Reason = null;
        Record.Digest = null;

        // A volume lives on its node and ports are published by it: the new node reports its own endpoints.
        Record.Endpoints = [];
        Record.UpdatedAt = clock.UtcNow;
        await state.WriteOrDeactivateAsync(this);
        TellRoutes();
    }

    public async Task<bool> ReportAsync(long nodeId, WorkloadReport report)
    {
        if (Record.Spec is null || Record.State == WorkloadState.Deleted || nodeId != Record.NodeId || report.Epoch != Record.Epoch)
        {
            return false;
        }

        _logs.Append(report.Logs);

        // Where it failed is kept over its placements: a node asks whether its failure was met elsewhere too.
        var failedOnNewNode = FailureHistory.Record(Record.FailedOn, nodeId, report);
        var endpoints = report.Endpoints is { } reported ? [.. reported] : Record.Endpoints;
        if (!failedOnNewNode && Record.State == report.State && Record.Restarts == report.Restarts && Record.Message == report.Message
            && Record.Reason == report.Reason && Record.Digest == (report.Digest ?? Record.Digest) && endpoints.SequenceEqual(Record.Endpoints))
        {
            return true;
        }

        Record.State = report.State;
        Record.Restarts = report.Restarts;
        Record.Message = report.Message;
        Record.Reason = report.Reason;
        Record.Digest = report.Digest ?? Record.Digest;
        Record.Endpoints = endpoints;
        Record.UpdatedAt = clock.UtcNow;
        await state.WriteOrDeactivateAsync(this);
        TellRoutes();
        if (report.State is WorkloadState.Running or WorkloadState.Unsupported)
        {
            // Not awaited: the reservation may be calling nodes, and a node may be waiting on this report.
            GrainFactory.GetGrain<IReservationGrain>(Record.ReservationId).WorkloadRunningAsync(this.GetPrimaryKeyLong(), report.Epoch).Ignore();
        }

        return true;
    }

    public Task<bool> FailedElsewhereAsync(long nodeId, string? reason) =>
        Task.FromResult(FailureHistory.FailedElsewhere(Record.FailedOn, nodeId, reason));

    public async Task DeleteAsync()
    {
        if (Record.Spec is null || Record.State == WorkloadState.Deleted)
        {
            return;
        }

        Record.State = WorkloadState.Deleted;
        Record.UpdatedAt = clock.UtcNow;
        await state.WriteOrDeactivateAsync(this);
        TellRoutes();
    }

    public Task<string> GetLogsAsync(int lines) => Task.FromResult(_logs.Last(lines));

    /// <summary>
    /// A workload with published ports may be a name's backend: the route table learns each change (one-way, so a
    /// report never waits on it; the table asks again periodically in case one is lost).
    /// </summary>
    private void TellRoutes()
    {
        if (Record.Spec?.Container is { Ports.IsDefaultOrEmpty: false })
        {
            GrainFactory.GetGrain<IGatewayRoutesGrain>(0).WorkloadChangedAsync(Info()).Ignore();
        }
    }

    private WorkloadInfo Info() => new(
        this.GetPrimaryKeyLong(),
        Record.ReservationId,
        Record.TwinId,
        Record.Spec!,
        Record.State,
        Record.NodeId,
        Record.Epoch,
        Record.Restarts,
        Record.Message,
        Record.CreatedAt,
        Record.UpdatedAt)
    {
        Reason = Record.Reason,
        Digest = Record.Digest,
        Endpoints = [.. Record.Endpoints],
    };
}
