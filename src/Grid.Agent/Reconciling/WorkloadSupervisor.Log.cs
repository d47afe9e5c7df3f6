using Microsoft.Extensions.Logging;

namespace Grid.Agent.Reconciling;

// Event ids are the agent's (NodeAgent) of before the split, so log filters keep working.
internal sealed partial class WorkloadSupervisor
{
    [LoggerMessage(7, LogLevel.Information, "Workload {WorkloadId} epoch {Epoch} is a modelled {Type}: reported running")]
    private partial void LogModelled(long workloadId, long epoch, WorkloadType type);

    [LoggerMessage(8, LogLevel.Warning, "Workload {WorkloadId} epoch {Epoch} refused: {Reason}")]
    private partial void LogRefused(long workloadId, long epoch, string reason);

    [LoggerMessage(9, LogLevel.Warning, "Workload {WorkloadId} epoch {Epoch} exited (code {ExitCode}); restart {Restart} in {Backoff}")]
    private partial void LogExited(long workloadId, long epoch, int? exitCode, int restart, TimeSpan backoff);

    [LoggerMessage(10, LogLevel.Information, "Workload {WorkloadId} epoch {Epoch} stopped: {Reason}")]
    private partial void LogStopped(long workloadId, long epoch, string reason);

    [LoggerMessage(19, LogLevel.Warning, "Workload {WorkloadId} epoch {Epoch} could not be stopped cleanly")]
    private partial void LogStopFailed(long workloadId, long epoch, Exception exception);
}
