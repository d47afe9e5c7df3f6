using Microsoft.Extensions.Logging;

namespace Grid.Agent;

// The link, the supervisor and the process runtime log under the agent's category with their own event ids
// (2-18): the ids are those of before the agent was split, so log filters keep working.
public sealed partial class NodeAgent
{
    [LoggerMessage(1, LogLevel.Information, "Node agent for node {NodeId} started on {Api}; work directory {WorkDir}; process workloads {Allowed}")]
    private partial void LogStarting(long nodeId, Uri api, string workDir, string allowed);

    [LoggerMessage(13, LogLevel.Warning, "Self-fencing: controller unreachable for {Silence}; stopping {Count} process workloads")]
    private partial void LogFencing(TimeSpan silence, int count);

    [LoggerMessage(15, LogLevel.Error, "Reconciling the desired workloads failed")]
    private partial void LogReconcileFailed(Exception exception);

    [LoggerMessage(20, LogLevel.Information, "Node {NodeId} can run {Features}; published ports are reached at {Address}")]
    private partial void LogFeatures(long nodeId, string features, string address);

    [LoggerMessage(21, LogLevel.Information, "Node feature '{Feature}' is missing: {Why}")]
    private partial void LogFeatureMissing(string feature, string why);

    [LoggerMessage(22, LogLevel.Information, "Node agent {Version} exiting without stopping its {Count} running workloads: the next agent on this work directory re-adopts them")]
    private partial void LogHandingOver(string version, int count);
}
