using Microsoft.Extensions.Logging;

namespace Grid.Agent.Runtimes.Volumes;

internal sealed partial class VolumeRuntime
{
    [LoggerMessage(200, LogLevel.Information, "Volume {Name} of workload {WorkloadId} epoch {Epoch} made: {Size} bytes at {MountPath}")]
    private partial void LogStarted(string name, long workloadId, long epoch, long size, string mountPath);

    [LoggerMessage(201, LogLevel.Information, "Volume {Name} of workload {WorkloadId} epoch {Epoch} removed, its space freed")]
    private partial void LogStopped(string name, long workloadId, long epoch);

    [LoggerMessage(202, LogLevel.Information, "Re-adopted volume {Name} of workload {WorkloadId} epoch {Epoch}")]
    private partial void LogAdopted(string name, long workloadId, long epoch);

    [LoggerMessage(203, LogLevel.Error, "Volume {Name} of workload {WorkloadId} epoch {Epoch} could not be made")]
    private partial void LogStartFailed(string name, long workloadId, long epoch, Exception exception);

    [LoggerMessage(204, LogLevel.Warning, "Volume workloads are refused: {Reason}")]
    private partial void LogUnavailable(string reason);

    [LoggerMessage(205, LogLevel.Warning, "Remembered volume {Name} of workload {WorkloadId} could not be mounted again")]
    private partial void LogRemountFailed(string name, long workloadId, Exception exception);

    [LoggerMessage(206, LogLevel.Information, "Removed volume folder {Folder} (half-made or no longer wanted)")]
    private partial void LogCleaned(string folder);

    [LoggerMessage(207, LogLevel.Warning, "Could not remove volume folder {Folder}")]
    private partial void LogCleanFailed(string folder, Exception exception);
}
