using Microsoft.Extensions.Logging;

namespace Grid.Agent.Runtimes.Processes;

// Event ids are the agent's (NodeAgent) of before the split, so log filters keep working.
internal sealed partial class ProcessRuntime
{
    [LoggerMessage(6, LogLevel.Information, "Workload {WorkloadId} epoch {Epoch} started as PID {Pid}")]
    private partial void LogStarted(long workloadId, long epoch, int pid);

    [LoggerMessage(11, LogLevel.Information, "Re-adopted orphan PID {Pid} of workload {WorkloadId} epoch {Epoch}")]
    private partial void LogAdopted(int pid, long workloadId, long epoch);

    [LoggerMessage(12, LogLevel.Information, "Remembered PID {Pid} of workload {WorkloadId} is gone")]
    private partial void LogOrphanGone(int pid, long workloadId);

    [LoggerMessage(14, LogLevel.Error, "Workload {WorkloadId} epoch {Epoch} could not start")]
    private partial void LogStartFailed(long workloadId, long epoch, Exception exception);

    [LoggerMessage(16, LogLevel.Information, "Process workloads run as {User}, held to their reservation by {Limits}")]
    private partial void LogSandbox(string user, string limits);

    [LoggerMessage(17, LogLevel.Warning, "Process workloads are NOT held to their reserved CPU and memory: {Reason}")]
    private partial void LogLimitsUnavailable(string reason);

    [LoggerMessage(18, LogLevel.Error, "Process workloads cannot run safely: {Reason}")]
    private partial void LogSandboxFailed(string reason, Exception exception);
}
