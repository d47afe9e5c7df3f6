using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Grid.Agent.Runtimes.Networking;

/// <summary>One pod network as remembered in the agent's state file.</summary>
/// <param name="ReservationId">The reservation.</param>
/// <param name="Epoch">Its placement epoch.</param>
/// <param name="Namespace">Name of the network namespace (<c>ip netns</c>).</param>
/// <param name="HostVeth">Name of the host side of the veth pair (the pod side is <c>eth0</c> inside).</param>
/// <param name="HostAddress">The host side's address: the pod's default route.</param>
/// <param name="PodAddress">The pod's address on <c>eth0</c>.</param>
/// <param name="Users">The instances holding it.</param>
internal sealed record PodEntry(
    long ReservationId, long Epoch, string Namespace, string HostVeth, string HostAddress, string PodAddress, ImmutableArray<WorkloadKey> Users);

/// <summary>
/// Network namespaces per reservation placement (<c>grid-n&lt;node&gt;-r&lt;reservation&gt;-e&lt;epoch&gt;</c>), each joined
/// to the host by a veth pair with a private /30 from a private range that no other pod on the machine uses
/// (chosen under a machine-wide file lock, as two agents may share a machine). Counted by
/// users: the last release deletes the namespace and its veth. Listed in <c>pod-networks.json</c>; an agent
/// restarted after a crash calls <see cref="AdoptAsync"/> once its containers are adopted.
/// </summary>
internal sealed partial class PodNetworks : IPodNetworks
{
    /// <summary>Name of the state file inside the work directory.</summary>
    public const string StateFileName = "pod-networks.json";

    /// <summary>The default range of pod addresses.</summary>
    public const string DefaultRange = "10.213.0.0/16";

    /// <summary>The default machine-wide lock file.</summary>
    public const string DefaultLockPath = "/run/grid-agent-net.lock";

    private const string NetnsFolder = "/run/netns";

    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    private readonly AgentOptions _options;
    private readonly ILogger _logger;
    private readonly IPNetwork _range;
    private readonly string _lockPath;
    private readonly StateFile<PodEntry> _state;

    // Acquire and release run from the loop and from parallel stops: one at a time, as they run host tools.
    private readonly SemaphoreSlim _mutex = new(1, 1);
    private readonly Dictionary<(long ReservationId, long Epoch), PodEntry> _pods = [];

    /// <summary>Pod networks of the agent of <paramref name="options"/>.</summary>
    /// <param name="options">The agent's settings: node id (in every name) and work directory (the state file).</param>
    /// <param name="logger">Where namespaces made, adopted and deleted are logged.</param>
    /// <param name="range">Private IPv4 range the pods' /30s are cut from. Default <see cref="DefaultRange"/>.</param>
    /// <param name="lockPath">Machine-wide lock file held while addresses are chosen. Default <see cref="DefaultLockPath"/>.</param>
    public PodNetworks(AgentOptions options, ILogger logger, string range = DefaultRange, string lockPath = DefaultLockPath)
    {
        _options = options;
        _logger = logger;
        _range = IPNetwork.Parse(range);
        _lockPath = lockPath;
        _state = new StateFile<PodEntry>(Path.Combine(options.WorkDir, StateFileName));
    }

    /// <summary>
    /// The namespace's name for a reservation placement: named by the agent (<see cref="AgentOptions.Agent"/>) and node,
    /// so two agents on one machine never share one, even of two grids with the same node ids.
    /// </summary>
    public string NamespaceName(long reservationId, long epoch) =>
        string.Create(CultureInfo.InvariantCulture, $"{NodePrefix}r{reservationId}-e{epoch}");

    private string NodePrefix => _options.NamePrefix;

    /// <inheritdoc/>
    public async Task<PodNetwork> AcquireAsync(long reservationId, long epoch, WorkloadKey user, CancellationToken cancellationToken)
    {
        await _mutex.WaitAsync(cancellationToken);
        try
        {
            if (!_pods.TryGetValue((reservationId, epoch), out var pod))
            {
                pod = await CreateAsync(reservationId, epoch, cancellationToken);
                LogCreated(pod.Namespace, pod.PodAddress, pod.HostVeth);
            }

            if (!pod.Users.Contains(user))
            {
                pod = pod with { Users = pod.Users.Add(user) };
            }

            _pods[(reservationId, epoch)] = pod;
            Save();
            return ToNetwork(pod);
        }
        finally
        {
            _mutex.Release();
        }
    }

    /// <inheritdoc/>
    public async Task ReleaseAsync(long reservationId, long epoch, WorkloadKey user)
    {
        await _mutex.WaitAsync();
        try
        {
            if (!_pods.TryGetValue((reservationId, epoch), out var pod))
            {
                return;
            }

            pod = pod with { Users = pod.Users.Remove(user) };
            if (pod.Users.IsEmpty)
            {
                await DeleteAsync(pod.Namespace, pod.HostVeth);
                _pods.Remove((reservationId, epoch));
                LogDeleted(pod.Namespace);
            }
            else
            {
                _pods[(reservationId, epoch)] = pod;
            }

            Save();
        }
        finally
        {
            _mutex.Release();
        }
    }

    /// <summary>
    /// After an agent restart, once the container runtime knows which of its containers still run: keeps the remembered
    /// namespaces held by any of <paramref name="users"/> (with those users only) whose namespace and veth still exist,
    /// and deletes every other namespace and veth of this node (no user left, or half-made by a crash). Answers the kept
    /// namespaces' reservation placements. Call it once, before the first <see cref="AcquireAsync"/>.
    /// </summary>
    public async Task<IReadOnlyList<(long ReservationId, long Epoch)>> AdoptAsync(IReadOnlyCollection<WorkloadKey> users, CancellationToken cancellationToken)
    {
        var alive = users.ToHashSet();
        await _mutex.WaitAsync(cancellationToken);
        try
        {
            var links = await VethLink.ListAsync(cancellationToken);
            foreach (var pod in _state.Load())
            {
                var holders = pod.Users.Where(alive.Contains).ToImmutableArray();
                if (!holders.IsEmpty && File.Exists(NamespacePath(pod.Namespace)) && links.Any(l => l.Name == pod.HostVeth))
                {
                    _pods[(pod.ReservationId, pod.Epoch)] = pod with { Users = holders };
                    LogAdopted(pod.Namespace, holders.Length);
                }
            }

            var kept = _pods.Values.Select(p => p.Namespace).ToHashSet();
            var namespaces = Directory.Exists(NetnsFolder) ? Directory.GetFiles(NetnsFolder, NodePrefix + "*").Select(Path.GetFileName) : [];
            foreach (var name in namespaces.Concat(links.Select(l => l.Alias)).OfType<string>().Where(n => n.StartsWith(NodePrefix, StringComparison.Ordinal)).Distinct())
            {
                if (!kept.Contains(name))
                {
                    await DeleteAsync(name, HostVethName(name));
                    LogDeleted(name);
                }
            }

            Save();
            return [.. _pods.Keys];
        }
        finally
        {
            _mutex.Release();
        }
    }

    private static string NamespacePath(string name) => Path.Combine(NetnsFolder, name);

    private static PodNetwork ToNetwork(PodEntry pod) => new(NamespacePath(pod.Namespace), IPAddress.Parse(pod.PodAddress));

    // ≤ 15 characters (IFNAMSIZ) and unique machine-wide: a hash of the namespace name, which names the node.
    private static string HostVethName(string ns) => "gv" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ns)))[..11];

    private async Task<PodEntry> CreateAsync(long reservationId, long epoch, CancellationToken cancellationToken)
    {
        var ns = NamespaceName(reservationId, epoch);
        var host = HostVethName(ns);
        var peer = "gp" + host[2..];

        // A namespace of the same name left by a crash is of no use: made anew. Looked for first, as each run of a
        // tool costs a process start (tens of milliseconds on a busy machine) and a pod's start waits for them all.
        if (File.Exists(NamespacePath(ns)) || Directory.Exists(Path.Combine("/sys/class/net", host)))
        {
            await DeleteAsync(ns, host);
        }

        using var machine = await MachineLock.AcquireAsync(_lockPath, LockTimeout, cancellationToken);
        var block = await FreeBlockAsync(cancellationToken);
        var hostAddress = Offset(block, 1);
        var podAddress = Offset(block, 2);
        try
        {
            // Three runs of ip instead of one per step: its batch mode runs the steps in order, stopping at the first
            // that fails (and saying which). The namespace is made by a run of its own, before anything is put in it.
            await Ip(cancellationToken, "netns", "add", ns);

            // The alias names the namespace, so a veth left by a crash before it moved is found and deleted on adoption.
            await IpBatch(cancellationToken, [],
                $"link add {host} type veth peer name {peer}",
                $"link set {host} alias {ns}",
                $"link set {peer} netns {ns}",
                $"addr add {hostAddress}/30 dev {host}",
                $"link set {host} up");
            await IpBatch(cancellationToken, ["-n", ns],
                $"link set {peer} name eth0",
                $"addr add {podAddress}/30 dev eth0",
                "link set eth0 up",
                "link set lo up",
                $"route add default via {hostAddress}");
        }
        catch
        {
            await DeleteAsync(ns, host);
            throw;
        }

        return new PodEntry(reservationId, epoch, ns, host, hostAddress.ToString(), podAddress.ToString(), []);
    }

    // The first /30 of the range no address on the host falls in (every pod's host side lives in the root namespace).
    private async Task<IPAddress> FreeBlockAsync(CancellationToken cancellationToken)
    {
        var used = new HashSet<long>();
        var output = await HostCommand.CheckedAsync("ip", ["-o", "-4", "addr", "show"], cancellationToken);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var inet = Array.IndexOf(fields, "inet");
            if (inet >= 0 && inet + 1 < fields.Length && IPAddress.TryParse(fields[inet + 1].Split('/')[0], out var address) && _range.Contains(address))
            {
                used.Add((ToNumber(address) - ToNumber(_range.BaseAddress)) / 4);
            }
        }

        var blocks = 1L << (32 - _range.PrefixLength - 2);
        for (var block = 0L; block < blocks; block++)
        {
            if (!used.Contains(block))
            {
                return Offset(_range.BaseAddress, block * 4);
            }
        }

        throw new HostCommandException($"every /30 of the pod range {_range} is in use on this machine");
    }

    private static async Task DeleteAsync(string ns, string hostVeth)
    {
        // Deleting the namespace takes its eth0 and so the pair; the host side goes by name when it never moved.
        await HostCommand.RunAsync("ip", ["netns", "delete", ns]);
        await HostCommand.RunAsync("ip", ["link", "delete", hostVeth]);
    }

    private static Task<string> Ip(CancellationToken cancellationToken, params string[] args) => HostCommand.CheckedAsync("ip", args, cancellationToken);

    /// <summary>One run of <c>ip [options] -batch -</c> with <paramref name="commands"/> (generated names only: nothing to quote).</summary>
    private static Task<string> IpBatch(CancellationToken cancellationToken, string[] options, params string[] commands) =>
        HostCommand.CheckedAsync("ip", [.. options, "-batch", "-"], cancellationToken, string.Join('\n', commands) + "\n");

    private static long ToNumber(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return ((long)bytes[0] << 24) | ((long)bytes[1] << 16) | ((long)bytes[2] << 8) | bytes[3];
    }

    private static IPAddress Offset(IPAddress address, long offset)
    {
        var value = ToNumber(address) + offset;
        return new IPAddress([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);
    }

    private void Save() => _state.Save(_pods.Values);
}
