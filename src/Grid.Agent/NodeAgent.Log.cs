using Microsoft.Extensions.Logging;

namespace Grid.Agent;

public sealed partial class NodeAgent
{
    [LoggerMessage(1, LogLevel.Information, "Node agent for node {NodeId} started on {Api}; work directory {WorkDir}; process workloads {Allowed}")]
    private partial void LogStarting(long nodeId, Uri api, string workDir, string allowed);

    [LoggerMessage(2, LogLevel.Warning, "Controller unreachable: {Reason}")]
    private partial void LogUnreachable(string reason);

    [LoggerMessage(3, LogLevel.Error, "Controller rejected the heartbeat: {Status} {Reason}")]
    private partial void LogRejected(int status, string reason);

    [LoggerMessage(4, LogLevel.Information, "Controller reachable again after {Silence}")]
    private partial void LogReconnected(TimeSpan silence);

    [LoggerMessage(5, LogLevel.Information, "Node {NodeId} draining: {Draining}")]
    private partial void LogDraining(long nodeId, bool draining);

    [LoggerMessage(6, LogLevel.Information, "Workload {WorkloadId} epoch {Epoch} started as PID {Pid}")]
    private partial void LogStarted(long workloadId, long epoch, int pid);

    [LoggerMessage(7, LogLevel.Information, "Workload {WorkloadId} epoch {Epoch} is a modelled {Type}: reported running")]
    private partial void LogModelled(long workloadId, long epoch, WorkloadType type);

    [LoggerMessage(8, LogLevel.Warning, "Workload {WorkloadId} epoch {Epoch} refused: {Reason}")]
    private partial void LogRefused(long workloadId, long epoch, string reason);

    [LoggerMessage(9, LogLevel.Warning, "Workload {WorkloadId} epoch {Epoch} exited (code {ExitCode}); restart {Restart} in {Backoff}")]
    private partial void LogExited(long workloadId, long epoch, int? exitCode, int restart, TimeSpan backoff);

    [LoggerMessage(10, LogLevel.Information, "Workload {WorkloadId} epoch {Epoch} stopped: {Reason}")]
    private partial void LogStopped(long workloadId, long epoch, string reason);

    [LoggerMessage(11, LogLevel.Information, "Re-adopted orphan PID {Pid} of workload {WorkloadId} epoch {Epoch}")]
    private partial void LogAdopted(int pid, long workloadId, long epoch);

    [LoggerMessage(12, LogLevel.Information, "Remembered PID {Pid} of workload {WorkloadId} is gone")]
    private partial void LogOrphanGone(int pid, long workloadId);

    [LoggerMessage(13, LogLevel.Warning, "Self-fencing: controller unreachable for {Silence}; stopping {Count} process workloads")]
    private partial void LogFencing(TimeSpan silence, int count);

    [LoggerMessage(14, LogLevel.Error, "Workload {WorkloadId} epoch {Epoch} could not start: {Reason}")]
    private partial void LogStartFailed(long workloadId, long epoch, string reason);

    [LoggerMessage(15, LogLevel.Error, "Reconciling the desired workloads failed")]
    private partial void LogReconcileFailed(Exception exception);

    [LoggerMessage(16, LogLevel.Information, "Process workloads run as {User}, held to their reservation by {Limits}")]
    private partial void LogSandbox(string user, string limits);

    [LoggerMessage(17, LogLevel.Warning, "Process workloads are NOT held to their reserved CPU and memory: {Reason}")]
    private partial void LogLimitsUnavailable(string reason);

    [LoggerMessage(18, LogLevel.Error, "Process workloads cannot run safely: {Reason}")]
    private partial void LogSandboxFailed(string reason);
}
