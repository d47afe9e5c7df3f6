using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Grid.Agent.Runtimes.Networking;

/// <summary>One published port as remembered in the agent's state file.</summary>
/// <param name="WorkloadId">The workload.</param>
/// <param name="Epoch">The instance's epoch.</param>
/// <param name="Name">The port's name (<c>http</c>).</param>
/// <param name="HostPort">The host port it is published on.</param>
/// <param name="ContainerPort">The port inside the pod.</param>
/// <param name="Target">The pod's address.</param>
internal sealed record PortEntry(long WorkloadId, long Epoch, string Name, int HostPort, int ContainerPort, string Target)
{
    /// <summary>The instance.</summary>
    public WorkloadKey Key => new(WorkloadId, Epoch);
}

/// <summary>
/// Publishes container ports on <see cref="Address"/> with a userspace forwarder per port, host ports picked from the
/// agent's range by a <see cref="PortPicker"/>. Listed in <c>ports.json</c>: the ports a previous agent published
/// are held for their instances until <see cref="AdoptAsync"/>, which forwards them again, so an adopted container
/// keeps its endpoints.
/// </summary>
internal sealed partial class PortPublisher : IPortPublisher, IAsyncDisposable
{
    /// <summary>Name of the state file inside the work directory.</summary>
    public const string StateFileName = "ports.json";

    /// <summary>How long a released port is not handed out again by default.</summary>
    public static readonly TimeSpan DefaultQuarantine = TimeSpan.FromSeconds(60);

    private readonly ILogger _logger;
    private readonly IPAddress _listenAddress;
    private readonly PortPicker _picker;
    private readonly StateFile<PortEntry> _state;
    private readonly SemaphoreSlim _mutex = new(1, 1);
    private readonly Dictionary<WorkloadKey, List<(PortEntry Entry, PortForwarder Forwarder)>> _published = [];
    private List<PortEntry> _remembered;

    /// <summary>The publisher of the agent of <paramref name="options"/>.</summary>
    /// <param name="options">The agent's settings: <see cref="AgentOptions.PublicAddress"/>, the port range, the work directory.</param>
    /// <param name="logger">Where published and freed ports are logged.</param>
    /// <param name="detectedAddress">
    /// The local address the agent reaches the controller from, used when no public address is set. Without either,
    /// 127.0.0.1 is used: endpoints then work on this machine only (a last resort, logged at start).
    /// </param>
    /// <param name="time">Clock of the quarantine. Default: the system clock.</param>
    /// <param name="quarantine">How long a released port is not handed out again. Default: <see cref="DefaultQuarantine"/>.</param>
    public PortPublisher(AgentOptions options, ILogger logger, string? detectedAddress = null, TimeProvider? time = null, TimeSpan? quarantine = null)
    {
        _logger = logger;
        Address = options.PublicAddress ?? detectedAddress ?? IPAddress.Loopback.ToString();
        _listenAddress = IPAddress.Parse(Address);
        _picker = new PortPicker(options.PortRangeStart, options.PortRangeEnd, quarantine ?? DefaultQuarantine, time ?? TimeProvider.System);
        _state = new StateFile<PortEntry>(Path.Combine(options.WorkDir, StateFileName));

        // Held until AdoptAsync: another instance must not take the port an adopted container's clients still use.
        _remembered = [.. _state.Load().Where(e => _picker.Hold(e.HostPort))];
        if (options.PublicAddress is null && detectedAddress is null)
        {
            LogLoopbackOnly();
        }
    }

    /// <inheritdoc/>
    public string Address { get; }

    /// <inheritdoc/>
    public async Task<ImmutableArray<WorkloadEndpoint>> PublishAsync(WorkloadKey key, IReadOnlyList<ContainerPort> ports, IPAddress target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ports);
        ArgumentNullException.ThrowIfNull(target);
        await _mutex.WaitAsync(cancellationToken);
        try
        {
            var wanted = ports.Select(p => (p.Name, p.Port, Target: target.ToString())).ToList();
            if (_published.TryGetValue(key, out var current)
                && current.Select(p => (p.Entry.Name, Port: p.Entry.ContainerPort, p.Entry.Target)).SequenceEqual(wanted))
            {
                return Endpoints(current);
            }

            await StopForwardingAsync(key);
            var opened = new List<(PortEntry, PortForwarder)>();
            try
            {
                foreach (var port in ports)
                {
                    var remembered = _remembered.FirstOrDefault(e => e.Key == key && e.Name == port.Name);
                    opened.Add(Open(key, port.Name, port.Port, target, remembered?.HostPort));
                }
            }
            catch (NoFreePortException)
            {
                foreach (var (entry, forwarder) in opened)
                {
                    await forwarder.DisposeAsync();
                    _picker.Release(entry.HostPort);
                }

                throw;
            }

            _published[key] = opened;
            ForgetRemembered(key);
            Save();
            return Endpoints(opened);
        }
        finally
        {
            _mutex.Release();
        }
    }

    /// <inheritdoc/>
    public async Task UnpublishAsync(WorkloadKey key)
    {
        await _mutex.WaitAsync();
        try
        {
            await StopForwardingAsync(key);
            ForgetRemembered(key);
            Save();
        }
        finally
        {
            _mutex.Release();
        }
    }

    /// <summary>
    /// After an agent restart, once the container runtime knows which of its containers still run: forwards again the
    /// remembered ports of <paramref name="alive"/> on the same host ports and to the same pod addresses, and frees
    /// (into quarantine) the ports of every other remembered instance. Answers the adopted instances' endpoints. A
    /// later <see cref="PublishAsync"/> of the same ports and target answers the same endpoints.
    /// </summary>
    public async Task<IReadOnlyDictionary<WorkloadKey, ImmutableArray<WorkloadEndpoint>>> AdoptAsync(IReadOnlyCollection<WorkloadKey> alive, CancellationToken cancellationToken)
    {
        var adopted = new Dictionary<WorkloadKey, ImmutableArray<WorkloadEndpoint>>();
        foreach (var group in _remembered.Where(e => alive.Contains(e.Key)).GroupBy(e => e.Key).ToList())
        {
            var ports = group.Select(e => new ContainerPort(e.Name, e.ContainerPort)).ToList();
            adopted[group.Key] = await PublishAsync(group.Key, ports, IPAddress.Parse(group.First().Target), cancellationToken);
        }

        await _mutex.WaitAsync(cancellationToken);
        try
        {
            foreach (var key in _remembered.Select(e => e.Key).Distinct().ToList())
            {
                ForgetRemembered(key);
            }

            Save();
        }
        finally
        {
            _mutex.Release();
        }

        return adopted;
    }

    /// <summary>The endpoints <paramref name="key"/> is published on now; empty when none.</summary>
    public ImmutableArray<WorkloadEndpoint> EndpointsOf(WorkloadKey key)
    {
        _mutex.Wait();
        try
        {
            return _published.TryGetValue(key, out var ports) ? Endpoints(ports) : [];
        }
        finally
        {
            _mutex.Release();
        }
    }

    /// <summary>Stops every forwarder (the agent ends); the state file keeps the ports for the next agent.</summary>
    public async ValueTask DisposeAsync()
    {
        await _mutex.WaitAsync();
        try
        {
            foreach (var (_, forwarder) in _published.Values.SelectMany(p => p))
            {
                await forwarder.DisposeAsync();
            }

            _published.Clear();
        }
        finally
        {
            _mutex.Release();
        }
    }

    private (PortEntry, PortForwarder) Open(WorkloadKey key, string name, int containerPort, IPAddress target, int? rememberedPort)
    {
        // The remembered port is held for this instance already: bound again if it can be, else a new one is picked.
        var listener = rememberedPort is { } held ? PortForwarder.TryListen(_listenAddress, held) : null;
        var hostPort = rememberedPort ?? 0;
        if (listener is null)
        {
            if (rememberedPort is { } lost)
            {
                _picker.Release(lost);
            }

            (listener, hostPort) = _picker.Take(port => PortForwarder.TryListen(_listenAddress, port) is { } socket ? Tuple.Create(socket, port) : null);
        }

        var entry = new PortEntry(key.WorkloadId, key.Epoch, name, hostPort, containerPort, target.ToString());
        LogPublished(key.WorkloadId, key.Epoch, name, Address, hostPort, target.ToString(), containerPort);
        return (entry, new PortForwarder(listener, new IPEndPoint(target, containerPort)));
    }

    private async Task StopForwardingAsync(WorkloadKey key)
    {
        if (!_published.Remove(key, out var ports))
        {
            return;
        }

        foreach (var (entry, forwarder) in ports)
        {
            await forwarder.DisposeAsync();
            _picker.Release(entry.HostPort);
            LogUnpublished(key.WorkloadId, key.Epoch, entry.Name, entry.HostPort);
        }
    }

    private void ForgetRemembered(WorkloadKey key)
    {
        foreach (var entry in _remembered.Where(e => e.Key == key))
        {
            // Still held by the picker unless it was bound again for the same instance.
            if (!_published.TryGetValue(key, out var ports) || ports.All(p => p.Entry.HostPort != entry.HostPort))
            {
                _picker.Release(entry.HostPort);
            }
        }

        _remembered = [.. _remembered.Where(e => e.Key != key)];
    }

    private ImmutableArray<WorkloadEndpoint> Endpoints(List<(PortEntry Entry, PortForwarder Forwarder)> ports) =>
        [.. ports.Select(p => new WorkloadEndpoint(p.Entry.Name, Address, p.Entry.HostPort))];

    private void Save() => _state.Save(_published.Values.SelectMany(p => p).Select(p => p.Entry).Concat(_remembered));
}
