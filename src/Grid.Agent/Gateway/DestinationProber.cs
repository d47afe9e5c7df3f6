using System.Collections.Immutable;
using Microsoft.Extensions.Logging;

namespace Grid.Agent.Gateway;

/// <summary>
/// The gateway's own view of every destination's health: a GET of the route's health check path every interval
/// (2xx/3xx passes). A destination is healthy only after a probe passed at this gateway; until then, after a failed
/// probe, and after a failed proxied request (passive) it is not, until its next probe passes. YARP would treat a
/// destination it has not checked as available, so only healthy destinations are given to it (<see cref="Healthy"/>).
/// </summary>
/// <param name="client">Client of the probes (no redirects: a 3xx answer passes as it is).</param>
/// <param name="time">Clock of the probe intervals.</param>
/// <param name="logger">Where health changes are logged.</param>
/// <param name="changed">Called (outside any lock) after a destination's health changed.</param>
internal sealed partial class DestinationProber(HttpClient client, TimeProvider time, ILogger logger, Action changed) : IAsyncDisposable
{
    private static readonly TimeSpan MinimumInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ShortestProbe = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan LongestProbe = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly ILogger _logger = logger;
    private readonly Dictionary<(string Name, string Id), Probe> _probes = [];
    private long _version;

    /// <summary>Increases with every change of <see cref="Health"/>.</summary>
    public long Version
    {
        get
        {
            lock (_lock)
            {
                return _version;
            }
        }
    }

    /// <summary>Probes the destinations of <paramref name="routes"/>: new ones start unhealthy, removed or moved ones stop.</summary>
    public void Apply(ImmutableArray<GatewayRoute> routes)
    {
        var stopped = new List<Probe>();
        lock (_lock)
        {
            var wanted = new Dictionary<(string, string), (GatewayDestination Destination, NameHealthCheck Check)>();
            foreach (var route in routes)
            {
                foreach (var destination in route.Destinations)
                {
                    wanted[(route.Name, destination.Id)] = (destination, route.HealthCheck ?? NameHealthCheck.Default);
                }
            }

            foreach (var (key, probe) in _probes.ToList())
            {
                // A destination that moved (new address) or whose check changed starts over: it must pass there first.
                if (!wanted.TryGetValue(key, out var want) || want.Destination.Address != probe.Address || want.Check != probe.Check)
                {
                    _probes.Remove(key);
                    stopped.Add(probe);
                    _version++;
                }
            }

            foreach (var (key, want) in wanted)
            {
                if (!_probes.ContainsKey(key))
                {
                    var probe = new Probe(key.Item1, key.Item2, want.Destination.Address, want.Check);
                    _probes[key] = probe;
                    _version++;
                    probe.Loop = Task.Run(() => ProbeLoopAsync(probe));
                }
            }
        }

        foreach (var probe in stopped)
        {
            probe.Stop.Cancel();
            _ = probe.Loop.ContinueWith(_ => probe.Stop.Dispose(), TaskScheduler.Default);
        }
    }

    /// <summary>True when <paramref name="destination"/> of <paramref name="name"/> passed its last probe and failed no request since.</summary>
    public bool Healthy(string name, GatewayDestination destination)
    {
        lock (_lock)
        {
            return _probes.TryGetValue((name, destination.Id), out var probe) && probe.Address == destination.Address && probe.Healthy;
        }
    }

    /// <summary>Passive health: a request to <paramref name="address"/> failed; it gets no traffic until its next probe passes.</summary>
    public void Failed(string name, string id, string address, string reason)
    {
        lock (_lock)
        {
            if (!_probes.TryGetValue((name, id), out var probe) || probe.Address != address || !probe.Healthy)
            {
                return;
            }

            probe.Healthy = false;
            probe.Reason = reason;
            _version++;
        }

        LogUnhealthy(name, id, reason);
        changed();
    }

    /// <summary>Every destination's health as this gateway sees it.</summary>
    public ImmutableArray<DestinationHealth> Health()
    {
        lock (_lock)
        {
            return [.. _probes.Values.OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Id, StringComparer.Ordinal)
                .Select(p => new DestinationHealth(p.Name, p.Id, p.Healthy, p.Reason))];
        }
    }

    /// <summary>Stops every probe.</summary>
    public async ValueTask DisposeAsync()
    {
        List<Probe> probes;
        lock (_lock)
        {
            probes = [.. _probes.Values];
            _probes.Clear();
        }

        foreach (var probe in probes)
        {
            await probe.Stop.CancelAsync();
        }

        await Task.WhenAll(probes.Select(p => p.Loop));
        foreach (var probe in probes)
        {
            probe.Stop.Dispose();
        }
    }

    private async Task ProbeLoopAsync(Probe probe)
    {
        var interval = probe.Check.Interval > MinimumInterval ? probe.Check.Interval : MinimumInterval;
        var url = new Uri(new Uri(probe.Address), probe.Check.Path);
        while (!probe.Stop.IsCancellationRequested)
        {
            // A probe may take its interval, but no less than a busy backend needs to answer one GET.
            var timeout = interval < ShortestProbe ? ShortestProbe : interval > LongestProbe ? LongestProbe : interval;
            var reason = await CheckAsync(url, timeout, probe.Stop.Token);
            if (probe.Stop.IsCancellationRequested)
            {
                return;
            }

            Record(probe, reason);
            try
            {
                await Task.Delay(interval, time, probe.Stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One probe: null when it passed, else why not.</summary>
    private async Task<string?> CheckAsync(Uri url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            var status = (int)response.StatusCode;
            return status is >= 200 and < 400 ? null : $"health check GET {url.PathAndQuery} answered {status}";
        }
        catch (HttpRequestException e)
        {
            return $"health check GET {url.PathAndQuery} failed: {e.Message}";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"health check GET {url.PathAndQuery} had no answer within {timeout.TotalSeconds:0.#} s";
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    private void Record(Probe probe, string? reason)
    {
        var healthy = reason is null;
        lock (_lock)
        {
            if (!_probes.TryGetValue((probe.Name, probe.Id), out var current) || current != probe
                || (probe.Healthy == healthy && probe.Reason == reason && probe.Checked))
            {
                return;
            }

            probe.Checked = true;
            probe.Healthy = healthy;
            probe.Reason = reason;
            _version++;
        }

        if (healthy)
        {
            LogHealthy(probe.Name, probe.Id, probe.Address);
        }
        else
        {
            LogUnhealthy(probe.Name, probe.Id, reason!);
        }

        changed();
    }

    [LoggerMessage(80, LogLevel.Information, "Gateway: {Name} destination {Id} at {Address} is healthy")]
    private partial void LogHealthy(string name, string id, string address);

    [LoggerMessage(81, LogLevel.Warning, "Gateway: {Name} destination {Id} is unhealthy: {Reason}")]
    private partial void LogUnhealthy(string name, string id, string reason);

    /// <summary>The health check of one destination of one name.</summary>
    private sealed class Probe(string name, string id, string address, NameHealthCheck check)
    {
        public string Name { get; } = name;

        public string Id { get; } = id;

        public string Address { get; } = address;

        public NameHealthCheck Check { get; } = check;

        public CancellationTokenSource Stop { get; } = new();

        public Task Loop { get; set; } = Task.CompletedTask;

        /// <summary>Whether a probe has run yet (the first result is always a change).</summary>
        public bool Checked { get; set; }

        public bool Healthy { get; set; }

        public string? Reason { get; set; } = "not checked yet";
    }
}
