using Microsoft.Extensions.Logging;

namespace Grid.Agent.Link;

// Event ids are the agent's (NodeAgent) of before the split, so log filters keep working.
internal sealed partial class ControllerLink
{
    [LoggerMessage(2, LogLevel.Warning, "Controller unreachable: {Reason}")]
    private partial void LogUnreachable(string reason, Exception exception);

    [LoggerMessage(3, LogLevel.Error, "Controller rejected the heartbeat: {Status}")]
    private partial void LogRejected(int status, Exception exception);

    [LoggerMessage(4, LogLevel.Information, "Controller reachable again after {Silence}")]
    private partial void LogReconnected(TimeSpan silence);

    [LoggerMessage(5, LogLevel.Information, "Node {NodeId} draining: {Draining}")]
    private partial void LogDraining(long nodeId, bool draining);

    [LoggerMessage(223, LogLevel.Warning, "The controller answered that the desired workloads at version {Version} are unchanged, but this agent holds version {Held}; the next heartbeat asks for the whole list")]
    private partial void LogUnchangedUnknown(long version, long? held);

    [LoggerMessage(27, LogLevel.Warning, "The link state {Path} was not used: {Reason}; the fencing clock counts from this agent's start")]
    private partial void LogStateIgnored(string path, string reason, Exception? exception);
}
