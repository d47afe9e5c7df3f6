using Microsoft.Extensions.Logging;

namespace Grid.Agent.Runtimes.Networking;

internal sealed partial class PodNetworks
{
    [LoggerMessage(210, LogLevel.Information, "Pod network {Namespace} made: {Address} behind {HostVeth}")]
    private partial void LogCreated(string @namespace, string address, string hostVeth);

    [LoggerMessage(211, LogLevel.Information, "Pod network {Namespace} deleted")]
    private partial void LogDeleted(string @namespace);

    [LoggerMessage(212, LogLevel.Information, "Re-adopted pod network {Namespace} with {Users} users")]
    private partial void LogAdopted(string @namespace, int users);
}
