using Microsoft.Extensions.Logging;

namespace Grid.Agent.Runtimes.Containers;

internal sealed partial class ContainerRuntime
{
    [LoggerMessage(60, LogLevel.Information, "Container {Id} (workload {WorkloadId} epoch {Epoch}) started from {Digest}")]
    private partial void LogStarted(string id, long workloadId, long epoch, string digest);

    [LoggerMessage(61, LogLevel.Warning, "Container of workload {WorkloadId} epoch {Epoch} did not start ({Reason}): {Why}")]
    private partial void LogStartFailed(long workloadId, long epoch, string reason, string why);

    [LoggerMessage(62, LogLevel.Information, "Container {Id} re-adopted after an agent restart")]
    private partial void LogAdopted(string id);

    [LoggerMessage(63, LogLevel.Information, "Container {Id} left by an earlier agent is gone or ended: cleaned up")]
    private partial void LogAdoptionCleaned(string id);

    [LoggerMessage(64, LogLevel.Warning, "Cleaning up container {Id}: {Step} failed: {Why}")]
    private partial void LogCleanupFailed(string id, string step, string why);

    [LoggerMessage(65, LogLevel.Information, "Image cache over its size: removed {Count} unused image(s)")]
    private partial void LogEvicted(int count);

    [LoggerMessage(66, LogLevel.Warning, "Container start of workload {WorkloadId} epoch {Epoch} failed unexpectedly")]
    private partial void LogStartCrashed(long workloadId, long epoch, Exception exception);

    [LoggerMessage(67, LogLevel.Warning, "runc list failed (attempt {Attempt} of 5): {Why}")]
    private partial void LogRuncListFailed(int attempt, string why);
}
