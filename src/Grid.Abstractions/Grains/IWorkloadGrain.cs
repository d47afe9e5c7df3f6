using Orleans.CodeGeneration;
namespace Grid.Grains;

/// <summary>What runs inside a reservation: spec, desired vs reported state, restarts. Key: workload id.</summary>
[Alias("grid.IWorkloadGrain")]
// 2 since 0.4.0 (FailedElsewhereAsync; a node asking a silo of 0.3.0 counts nothing then, see NodeGrain.Marketplace).
[Version(2)]
public interface IWorkloadGrain : IGrainWithIntegerKey
{
    [Alias("Create")]
    Task<WorkloadInfo> CreateAsync(long reservationId, long twinId, WorkloadSpec spec, long? nodeId, long epoch);

    [Alias("Get")]
    Task<WorkloadInfo?> GetAsync();

    /// <summary>Follows its reservation to a new placement.</summary>
    [Alias("Placed")]
    Task PlacedAsync(long? nodeId, long epoch);

    /// <summary>
    /// A node agent's report; ignored (false) unless it comes from the current node and epoch — a report can
    /// arrive before the workload learns of its new placement, so the node retries reports not accepted.
    /// </summary>
    [Alias("Report")]
    Task<bool> ReportAsync(long nodeId, WorkloadReport report);

    /// <summary>
    /// True when a node other than <paramref name="nodeId"/> reported this workload failed for <paramref name="reason"/>
    /// (at any placement): the failure is its spec's, and does not count against <paramref name="nodeId"/>.
    /// </summary>
    [Alias("FailedElsewhere")]
    Task<bool> FailedElsewhereAsync(long nodeId, string? reason);

    [Alias("Delete")]
    Task DeleteAsync();

    /// <summary>The last <paramref name="lines"/> lines of its output (stdout and stderr) as the node reported it; held in memory only.</summary>
    [Alias("GetLogs")]
    Task<string> GetLogsAsync(int lines);
}
