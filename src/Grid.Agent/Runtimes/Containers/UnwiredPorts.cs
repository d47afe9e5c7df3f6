using System.Collections.Immutable;
using System.Net;
using Grid.Agent.Runtimes.Networking;
using Grid.Agent.Runtimes.Volumes;

namespace Grid.Agent.Runtimes.Containers;

/// <summary>
/// Stands in for the volume and port rooms until they are wired: no volume is ever there (a container that mounts
/// one is told <c>volume-missing</c>) and publishing a port fails the start with the reason.
/// </summary>
/// <param name="address">The node's address.</param>
internal sealed class UnwiredPorts(string address) : IPortPublisher, IVolumeMounts
{
    /// <inheritdoc/>
    public string Address => address;

    /// <inheritdoc/>
    public Task<ImmutableArray<WorkloadEndpoint>> PublishAsync(WorkloadKey key, IReadOnlyList<ContainerPort> ports, IPAddress target, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("this agent cannot publish ports yet");

    /// <inheritdoc/>
    public Task UnpublishAsync(WorkloadKey key) => Task.CompletedTask;

    /// <inheritdoc/>
    public string? HostPath(long reservationId, string name) => null;
}
