using System.Collections.Immutable;
using System.Net;

namespace Grid.Agent.Runtimes.Networking;

/// <summary>
/// Publishes container ports on the node's public address: picks host ports from the agent's range (a port just
/// released is not handed out again at once) and forwards connections to the pod's address (a userspace forwarder,
/// like docker-proxy). The same instance keeps its host ports when re-adopted after an agent restart.
/// </summary>
internal interface IPortPublisher
{
    /// <summary>The address endpoints are reached at (the agent's public address).</summary>
    string Address { get; }

    /// <summary>Publishes <paramref name="ports"/> of <paramref name="key"/>, forwarding to <paramref name="target"/>; answers the endpoints.</summary>
    Task<ImmutableArray<WorkloadEndpoint>> PublishAsync(WorkloadKey key, IReadOnlyList<ContainerPort> ports, IPAddress target, CancellationToken cancellationToken);

    /// <summary>Stops forwarding the ports of <paramref name="key"/> and frees them (after a quarantine).</summary>
    Task UnpublishAsync(WorkloadKey key);
}
