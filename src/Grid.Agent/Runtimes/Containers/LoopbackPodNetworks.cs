using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Grid.Agent.Runtimes.Networking;

namespace Grid.Agent.Runtimes.Containers;

/// <summary>
/// Pod networks without a link to the node: one fresh network namespace per reservation and epoch
/// (<c>ip netns add</c>, loopback up), shared by its containers and deleted with the last of them. Until the
/// veth-joined pod networks are wired, containers reach each other on localhost and nothing else.
/// </summary>
/// <param name="nodeId">Names the namespaces, so two agents on one machine never share one.</param>
internal sealed class LoopbackPodNetworks(long nodeId) : IPodNetworks
{
    private readonly ConcurrentDictionary<string, HashSet<WorkloadKey>> _users = new();
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <inheritdoc/>
    public async Task<PodNetwork> AcquireAsync(long reservationId, long epoch, WorkloadKey user, CancellationToken cancellationToken)
    {
        var name = Name(reservationId, epoch);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!File.Exists(Path.Combine("/var/run/netns", name)))
            {
                var add = await Tool.RunAsync("ip", ["netns", "add", name], cancellationToken);
                var up = add.Ok ? await Tool.RunAsync("ip", ["-n", name, "link", "set", "lo", "up"], cancellationToken) : add;
                if (!up.Ok)
                {
                    throw new InvalidOperationException($"could not make network namespace {name}: {up.Output}");
                }
            }

            _users.GetOrAdd(name, _ => []).Add(user);
            return new PodNetwork(Path.Combine("/var/run/netns", name), IPAddress.Loopback);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc/>
    public async Task ReleaseAsync(long reservationId, long epoch, WorkloadKey user)
    {
        var name = Name(reservationId, epoch);
        await _gate.WaitAsync();
        try
        {
            // An agent restarted without users in memory still deletes the namespace its last container leaves.
            var users = _users.GetOrAdd(name, _ => []);
            users.Remove(user);
            if (users.Count == 0)
            {
                _users.TryRemove(name, out _);
                await Tool.RunAsync("ip", ["netns", "delete", name], CancellationToken.None);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private string Name(long reservationId, long epoch) =>
        string.Create(CultureInfo.InvariantCulture, $"grid-n{nodeId}-r{reservationId}-e{epoch}");
}
