using Microsoft.Extensions.Logging;

namespace Grid.Agent.Runtimes.Networking;

internal sealed partial class PortPublisher
{
    [LoggerMessage(220, LogLevel.Information, "Workload {WorkloadId} epoch {Epoch} port {Name} published on {Address}:{HostPort} to {Target}:{ContainerPort}")]
    private partial void LogPublished(long workloadId, long epoch, string name, string address, int hostPort, string target, int containerPort);

    [LoggerMessage(221, LogLevel.Information, "Workload {WorkloadId} epoch {Epoch} port {Name} unpublished from host port {HostPort}")]
    private partial void LogUnpublished(long workloadId, long epoch, string name, int hostPort);

    [LoggerMessage(222, LogLevel.Warning, "No public address given or detected: published ports listen on 127.0.0.1 and are reachable from this machine only")]
    private partial void LogLoopbackOnly();
}
