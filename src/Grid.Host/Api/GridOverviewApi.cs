using System.Collections.Immutable;
using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Grid.Scheduling;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

/// <summary>
/// Public read endpoints behind the console's overview: built from this silo's replica of the capacity index
/// (no fan-out to node grains) plus one call per farm, cached for a second so many open pages cost one build.
/// </summary>
public static class GridOverviewApi
{
    public const int MaxListedNodes = 500;
    public const int MaxEvents = 200;

    public static RouteGroupBuilder MapGridOverviewApi(this RouteGroupBuilder api)
    {
        var grid = api.MapGroup("/grid").WithTags("Grid").AllowPublic();
        grid.MapGet("/overview", GetOverview).WithName("GetGridOverview")
            .WithSummary("Public: farms, nodes by status with capacity used / total, countries (no API key needed).");
        grid.MapGet("/events", GetEvents).WithName("GetGridEvents")
            .WithSummary("Public: recent grid events (placed, moved, node down / up) after a sequence number, oldest first.");
        return api;
    }

    public static async Task<Ok<GridOverview>> GetOverview(GridOverviewCache cache) => TypedResults.Ok(await cache.GetAsync());

    public static async Task<Ok<GridEventPage>> GetEvents(IGrainFactory grains, long? after, int? limit) =>
        TypedResults.Ok(await grains.GetGrain<IGridEventsGrain>(0).GetAsync(Math.Max(0, after ?? 0), Math.Clamp(limit ?? 50, 1, MaxEvents)));

    public static async Task<GridOverview> BuildAsync(CapacityView view, IGrainFactory grains, DateTimeOffset now)
    {
        var nodes = view.Nodes.OrderBy(n => n.NodeId).ToList();
        var farmIds = nodes.Select(n => n.FarmId).Distinct().Order().ToList();
        var farms = await Task.WhenAll(farmIds.Select(id => grains.GetGrain<IFarmGrain>(id).GetAsync()));
        var capacityTotal = Capacity.Zero;
        var capacityUsed = Capacity.Zero;
        foreach (var node in nodes)
        {
            capacityTotal += node.Total;
            capacityUsed += node.Used;
        }

        var ipTotal = farms.Sum(f => f?.PublicIps.Length ?? 0);
        var ipUsed = farms.Sum(f => f?.PublicIps.Count(ip => ip.ReservationId != 0) ?? 0);
        return new GridOverview(
            now,
            Count(nodes),
            capacityTotal with { Ipv4 = ipTotal },
            capacityUsed with { Ipv4 = ipUsed },
            [.. farms.OfType<FarmInfo>().Select(farm =>
            {
                var own = nodes.Where(n => n.FarmId == farm.FarmId).ToList();
                return new PublicFarm(farm.FarmId, farm.Name, farm.Certification,
                    [.. own.Select(n => n.Location.Country).Distinct().Order()], Count(own),
                    farm.PublicIps.Length, farm.PublicIps.Count(ip => ip.ReservationId != 0));
            })],
            [.. nodes.GroupBy(n => n.Location.Country).OrderBy(g => g.Key).Select(g => new PublicCountry(g.Key, Count([.. g])))],
            [.. nodes.Take(MaxListedNodes).Select(n => new PublicNode(
                n.NodeId, n.FarmId, n.Location.Country, n.Location.City, StatusName(n), n.Draining, n.Total, n.Used))],
            nodes.Count > MaxListedNodes);
    }

    /// <summary>The same split as the <c>grid_nodes</c> metric: a draining node counts as draining, not up.</summary>
    public static string StatusName(NodeSummary node) =>
        node.Draining ? "draining" : node.Status.ToString().ToLowerInvariant();

    private static StatusCounts Count(IReadOnlyCollection<NodeSummary> nodes) => new(
        nodes.Count,
        nodes.Count(n => !n.Draining && n.Status == NodeStatus.Up),
        nodes.Count(n => !n.Draining && n.Status == NodeStatus.Down),
        nodes.Count(n => !n.Draining && n.Status == NodeStatus.Standby),
        nodes.Count(n => n.Draining));
}

/// <summary>One overview build per second per silo, shared by every open console page.</summary>
public sealed class GridOverviewCache(CapacityView view, IGrainFactory grains, GridClock clock)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);
    private readonly Lock _lock = new();
    private (DateTimeOffset At, Task<GridOverview> Overview)? _cache;

    public Task<GridOverview> GetAsync()
    {
        lock (_lock)
        {
            var now = clock.UtcNow;
            if (_cache is not { } cached || now - cached.At > CacheFor || cached.Overview.IsFaulted)
            {
                _cache = (now, GridOverviewApi.BuildAsync(view, grains, now));
            }

            return _cache.Value.Overview;
        }
    }
}
