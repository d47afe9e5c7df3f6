using System.Collections.Immutable;

namespace Grid.Names;

/// <summary>
/// What gateway nodes last said of each destination's health. A destination counts as healthy when at least one
/// gateway says so (each gateway probes on its own; one that cannot reach it should not hide it from the rest).
/// Reports of a gateway that has not synced for <paramref name="forgetAfter"/> are dropped.
/// </summary>
public sealed class GatewayHealthReports(TimeSpan forgetAfter)
{
    private readonly Dictionary<(long Node, string Name, string Destination), (bool Healthy, string? Reason)> _reports = [];
    private readonly Dictionary<long, DateTimeOffset> _gateways = [];

    /// <summary>Gateway nodes heard from within the window.</summary>
    public IEnumerable<long> Gateways(DateTimeOffset now) => _gateways.Where(g => now - g.Value <= forgetAfter).Select(g => g.Key);

    /// <summary>A gateway synced, with the reports it sent (null: nothing changed).</summary>
    public void Heard(long nodeId, DateTimeOffset now, ImmutableArray<DestinationHealth>? health)
    {
        _gateways[nodeId] = now;
        foreach (var report in health ?? [])
        {
            _reports[(nodeId, report.Name, report.DestinationId)] = (report.Healthy, report.Reason);
        }
    }

    /// <summary>Drops gateways (and their reports) silent for longer than the window.</summary>
    public void ForgetSilent(DateTimeOffset now)
    {
        var silent = _gateways.Where(g => now - g.Value > forgetAfter).Select(g => g.Key).ToHashSet();
        foreach (var node in silent)
        {
            _gateways.Remove(node);
        }

        foreach (var key in _reports.Keys.Where(k => silent.Contains(k.Node)).ToList())
        {
            _reports.Remove(key);
        }
    }

    /// <summary>Per destination of <paramref name="name"/>: a healthy report if any gateway sent one, else one of the others.</summary>
    public ImmutableArray<DestinationHealth> Of(string name) =>
        [.. _reports.Where(r => r.Key.Name == name)
            .GroupBy(r => r.Key.Destination, StringComparer.Ordinal)
            .Select(g => g.OrderByDescending(r => r.Value.Healthy).ThenBy(r => r.Key.Node).First())
            .Select(r => new DestinationHealth(name, r.Key.Destination, r.Value.Healthy, r.Value.Reason))];

    /// <summary>Forgets every report of <paramref name="name"/> (released).</summary>
    public void Forget(string name)
    {
        foreach (var key in _reports.Keys.Where(k => k.Name == name).ToList())
        {
            _reports.Remove(key);
        }
    }
}
