using System.Collections.Immutable;
using System.Net;
using System.Text;

namespace Grid.Names;

/// <summary>
/// The route table's rules, without a grain: the claimed names, what is known of their backend workloads, and the
/// routes built from both. A workload backend's destination is <c>http://&lt;address&gt;:&lt;port&gt;</c> of its named
/// published port while it runs; while it is on its way to running (a move, a restart) the last address it ran at
/// stays, because a drain keeps the old copy serving until the new one runs and the gateways' health checks drop a
/// dead one anyway. A stopped, failed or deleted workload has no destination.
/// </summary>
public sealed class RouteTable
{
    private readonly Dictionary<string, NameDefinition> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<long, KnownWorkload> _workloads = [];

    /// <summary>The names, by name.</summary>
    public IReadOnlyDictionary<string, NameDefinition> Names => _names;

    /// <summary>Workloads some name points at whose state is not known yet.</summary>
    public ImmutableArray<long> UnknownWorkloads =>
        [.. Referenced().Where(id => !_workloads.ContainsKey(id))];

    /// <summary>Every workload some name points at.</summary>
    public ImmutableArray<long> ReferencedWorkloads => [.. Referenced()];

    /// <summary>Sets (or replaces) a name; an older claim or update than the one held is ignored.</summary>
    public void SetName(NameDefinition name)
    {
        if (_names.TryGetValue(name.Name, out var held) && (held.Claim > name.Claim || held.Claim == name.Claim && held.UpdatedAt > name.UpdatedAt))
        {
            return;
        }

        _names[name.Name] = name;
    }

    /// <summary>Removes claim <paramref name="claim"/> of a name (a later claim stays).</summary>
    public bool RemoveName(string name, long claim) =>
        _names.TryGetValue(name, out var held) && held.Claim <= claim && _names.Remove(name);

    /// <summary>Takes what a workload grain says of itself, unless it is older than what is known.</summary>
    public void SetWorkload(WorkloadInfo workload)
    {
        _workloads.TryGetValue(workload.WorkloadId, out var known);
        if (known is not null && (known.Epoch > workload.Epoch || known.Epoch == workload.Epoch && known.UpdatedAt > workload.UpdatedAt))
        {
            return;
        }

        var addresses = known?.Addresses ?? ImmutableDictionary<string, string>.Empty;
        if (workload.State == WorkloadState.Running && !workload.Endpoints.IsDefaultOrEmpty)
        {
            addresses = workload.Endpoints.ToImmutableDictionary(e => e.Name, e => AddressOf(e.Address, e.Port), StringComparer.Ordinal);
        }
        else if (!IsOnItsWay(workload.State))
        {
            addresses = ImmutableDictionary<string, string>.Empty;
        }

        _workloads[workload.WorkloadId] = new KnownWorkload(workload.Epoch, workload.UpdatedAt, addresses);
    }

    /// <summary>Forgets workloads no name points at any more.</summary>
    public void ForgetUnreferenced()
    {
        var referenced = Referenced().ToHashSet();
        foreach (var id in _workloads.Keys.Where(id => !referenced.Contains(id)).ToList())
        {
            _workloads.Remove(id);
        }
    }

    /// <summary>Every name's route, by name.</summary>
    public ImmutableArray<GatewayRoute> Build(GatewayOptions options) =>
        [.. _names.Values.OrderBy(n => n.Name, StringComparer.Ordinal)
            .Select(n => new GatewayRoute(n.Name, options.HostOf(n.Name), Destinations(n), n.HealthCheck))];

    /// <summary>A text that differs whenever the routes do (records compare arrays by reference, not content).</summary>
    public static string Fingerprint(ImmutableArray<GatewayRoute> routes)
    {
        var text = new StringBuilder();
        foreach (var route in routes)
        {
            text.Append(route.Name).Append('|').Append(route.Host).Append('|').Append(route.HealthCheck.Path).Append('|')
                .Append(route.HealthCheck.Interval.Ticks);
            foreach (var destination in route.Destinations)
            {
                text.Append('|').Append(destination.Id).Append('=').Append(destination.Address);
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    /// <summary>The stable destination id of a workload backend.</summary>
    public static string DestinationId(long workloadId, string port) => $"w{workloadId}-{port}";

    /// <summary>The stable destination id of the <paramref name="index"/>-th URL backend (from 0).</summary>
    public static string UrlDestinationId(int index) => $"url-{index}";

    /// <summary>States in which a workload is expected to run soon at its current epoch.</summary>
    public static bool IsOnItsWay(WorkloadState state) =>
        state is WorkloadState.Pending or WorkloadState.Deploying or WorkloadState.Pulling or WorkloadState.Starting;

    private ImmutableArray<GatewayDestination> Destinations(NameDefinition name)
    {
        var destinations = ImmutableArray.CreateBuilder<GatewayDestination>();
        var urls = 0;
        foreach (var backend in name.Backends)
        {
            if (backend.Url is { } url)
            {
                destinations.Add(new GatewayDestination(UrlDestinationId(urls++), url));
            }
            else if (backend is { WorkloadId: { } id, Port: { } port } && _workloads.TryGetValue(id, out var known)
                && known.Addresses.TryGetValue(port, out var address))
            {
                destinations.Add(new GatewayDestination(DestinationId(id, port), address));
            }
        }

        return destinations.ToImmutable();
    }

    private IEnumerable<long> Referenced() =>
        _names.Values.SelectMany(n => n.Backends).Where(b => b.WorkloadId is not null).Select(b => b.WorkloadId!.Value).Distinct();

    private static string AddressOf(string ip, int port) =>
        IPAddress.TryParse(ip, out var parsed) && parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"http://[{ip}]:{port}"
            : $"http://{ip}:{port}";

    private sealed record KnownWorkload(long Epoch, DateTimeOffset UpdatedAt, ImmutableDictionary<string, string> Addresses);
}
