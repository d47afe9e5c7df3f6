using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Grid.Agent.Runtimes;
using Grid.Agent.Runtimes.Containers;
using Grid.Agent.Runtimes.Networking;
using Grid.Agent.Runtimes.Volumes;
using Grid.Testing.Containers;
using Microsoft.Extensions.Logging;

namespace Grid.Agent.Tests.Containers;

/// <summary>
/// A work directory and container runtimes on it for one test, with real runc, skopeo and umoci. Disposing removes
/// whatever the node's containers left, even when the test failed: runc containers of its node id, overlay mounts
/// under the work directory, its pod namespaces and cgroups, then the folder.
/// </summary>
internal sealed class ContainerHost : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly List<ContainerRuntime> _runtimes = [];
    private readonly List<PortPublisher> _publishers = [];

    public ContainerHost(ILogger logger, long imageCacheBytes = 10L << 30, string runc = "runc", long? nodeId = null)
    {
        _logger = logger;
        NodeId = nodeId ?? Random.Shared.Next(100_000, 499_999);
        Options = new AgentOptions
        {
            ApiUrl = new Uri("http://127.0.0.1:1"),
            NodeId = NodeId,
            NodeKey = "k",
            WorkDir = Dir,
            StopGracePeriod = TimeSpan.FromSeconds(2),
            PortRangeStart = 43000,
            PortRangeEnd = 43999,
            ImageCacheBytes = imageCacheBytes,
            Runc = runc,
        };
    }

    /// <summary>A node id of its own per test unless given (names are the agent's too, by its folder: see <see cref="AgentOptions.Agent"/>).</summary>
    public long NodeId { get; }

    public string Dir { get; } = Directory.CreateTempSubdirectory("grid-container-test-").FullName;

    public AgentOptions Options { get; }

    /// <summary>What the names of this host's containers and pod namespaces start with.</summary>
    public string Prefix => Options.NamePrefix;

    /// <summary>The volume runtime of the last runtime made (its volumes are the containers' mounts).</summary>
    public VolumeRuntime? Volumes { get; private set; }

    /// <summary>
    /// A new runtime on the work directory with the agent's real pod networks, port publisher and volume runtime,
    /// wired as the agent wires them (a restarted agent makes new ones).
    /// </summary>
    public async Task<ContainerRuntime> NewRuntimeAsync()
    {
        var volumes = Volumes = new VolumeRuntime(Options, _logger);
        var networks = new PodNetworks(Options, _logger);
        var ports = new PortPublisher(Options, _logger, "127.0.0.1");
        _publishers.Add(ports);
        var runtime = new ContainerRuntime(Options, TimeProvider.System, _logger, volumes, networks, ports, async (alive, cancellationToken) =>
        {
            await networks.AdoptAsync(alive, cancellationToken);
            await ports.AdoptAsync(alive, cancellationToken);
        });
        _runtimes.Add(runtime);
        await runtime.PrepareAsync(default);
        return runtime;
    }

    /// <summary>Lets go of <paramref name="runtime"/> as a crashed agent would: its containers run on, its forwarders end with it.</summary>
    public async Task CrashAsync(ContainerRuntime runtime)
    {
        runtime.Dispose();
        await _publishers[_runtimes.IndexOf(runtime)].DisposeAsync();
    }

    public static WorkloadAssignment Assignment(
        WorkloadKey key, string image, long mru = 0, ImmutableArray<string> entrypoint = default, ImmutableArray<string> args = default,
        ContainerRestart restart = ContainerRestart.OnFailure, long twinId = 1, PullCredentials? auth = null, ImmutableArray<ContainerPort> ports = default,
        ImmutableArray<ContainerMount> mounts = default, long? reservationId = null, long sru = 0) =>
        new(key.WorkloadId, reservationId ?? 500 + key.WorkloadId, key.Epoch, new WorkloadSpec(
            "c", WorkloadType.Container, new Capacity(1, mru, sru, 0), null,
            new ContainerSpec(
                image, entrypoint.IsDefault ? [] : entrypoint, args.IsDefault ? [] : args, ImmutableDictionary<string, string>.Empty.Add("GREETING", "hi"),
                null, ports.IsDefault ? [] : ports, mounts.IsDefault ? [] : mounts, restart)))
        {
            TwinId = twinId,
            Auth = auth,
        };

    /// <summary>The loop devices whose backing file is under <paramref name="dir"/>.</summary>
    public static async Task<IReadOnlyList<string>> LoopDevicesUnderAsync(string dir) =>
        [.. (await Tools.RunAsync("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length == 2 && fields[1].Trim().StartsWith(dir, StringComparison.Ordinal))
            .Select(fields => fields[0])];

    /// <summary>The host pid of a running container, from <c>runc state</c>.</summary>
    public static async Task<int> PidOfAsync(string id) =>
        JsonNode.Parse(await Tools.RunAsync("runc", "state", id))!["pid"]!.GetValue<int>();

    public async ValueTask DisposeAsync()
    {
        foreach (var runtime in _runtimes)
        {
            runtime.Dispose();
        }

        foreach (var publisher in _publishers)
        {
            await publisher.DisposeAsync();
        }

        await CleanUpNodeAsync(NodeId, Dir);
        Directory.Delete(Dir, recursive: true);
    }

    /// <summary>
    /// Removes what containers of node <paramref name="nodeId"/>'s agent in <paramref name="dir"/> left on this machine, whatever the test reached: runc
    /// containers, overlay mounts under <paramref name="dir"/>, pod namespaces and veths, cgroups.
    /// </summary>
    public static async Task CleanUpNodeAsync(long nodeId, string dir)
    {
        var prefix = AgentOptions.NamePrefixOf(nodeId, dir);
        foreach (var id in (await Tools.RuncListAsync()).Where(i => i.StartsWith(prefix, StringComparison.Ordinal)))
        {
            await Tools.TryRunAsync("runc", "delete", "-f", id);
        }

        // Newest first: a container's overlay before the writable layer it sits on.
        foreach (var mount in File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).Where(p => p.StartsWith(dir, StringComparison.Ordinal)).Reverse().ToList())
        {
            await Tools.TryRunAsync("umount", "-l", mount);
        }

        // Loop devices of writable layers (and volumes) under the folder; a lazily unmounted one detaches once released.
        foreach (var device in await LoopDevicesUnderAsync(dir))
        {
            await Tools.TryRunAsync("losetup", "-d", device);
        }

        foreach (var ns in Directory.Exists("/var/run/netns") ? Directory.GetFiles("/var/run/netns", $"{prefix}*") : [])
        {
            await Tools.TryRunAsync("ip", "netns", "delete", Path.GetFileName(ns));
        }

        foreach (var link in (await VethLink.ListAsync(default)).Where(l => l.Alias?.StartsWith(prefix, StringComparison.Ordinal) == true))
        {
            await Tools.TryRunAsync("ip", "link", "delete", link.Name);
        }

        foreach (var controller in Directory.GetDirectories("/sys/fs/cgroup"))
        {
            var parent = Path.Combine(controller, "grid-containers");
            foreach (var group in Directory.Exists(parent) ? Directory.GetDirectories(parent, $"{prefix}*") : [])
            {
                foreach (var cgroup in new[] { Path.Combine(group, "ctr"), group }.Where(Directory.Exists))
                {
                    Directory.Delete(cgroup);
                }
            }
        }
    }
}
