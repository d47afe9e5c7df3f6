using System.Net;

namespace Grid.Agent.Runtimes.Networking;

/// <summary>One reservation's network namespace on this machine, shared by its containers (like a pod).</summary>
/// <param name="NamespacePath">Path of the namespace for the OCI bundle's <c>linux.namespaces</c> (e.g. <c>/var/run/netns/…</c>).</param>
/// <param name="Address">The namespace's address on its veth pair: where published ports are forwarded to.</param>
internal sealed record PodNetwork(string NamespacePath, IPAddress Address);

/// <summary>
/// Network namespaces per reservation placement, joined to the node by a veth pair. Containers of one reservation
/// (at one epoch) share one; it goes when the last of them is released. Survives an agent restart (found again).
/// </summary>
internal interface IPodNetworks
{
    /// <summary>The namespace of <paramref name="reservationId"/> at <paramref name="epoch"/>, made when missing; <paramref name="user"/> holds it.</summary>
    Task<PodNetwork> AcquireAsync(long reservationId, long epoch, WorkloadKey user, CancellationToken cancellationToken);

    /// <summary><paramref name="user"/> no longer needs it; the namespace and its veth go with the last user.</summary>
    Task ReleaseAsync(long reservationId, long epoch, WorkloadKey user);
}
