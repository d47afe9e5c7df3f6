using System.Net;
using System.Text.Json.Nodes;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>
/// A tenant's container with a published <c>http</c> port on one of two container nodes of a farm, and a gateway
/// node: what a name is routed through.
/// </summary>
internal sealed class GatewayWorld
{
    private const string Image = "127.0.0.1:5000/shop/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private GatewayWorld(GridClient grid) => Grid = grid;

    public GridClient Grid { get; }

    public required string Key { get; init; }

    public required long NodeId { get; init; }

    public required string NodeKey { get; init; }

    public required long SecondNodeId { get; init; }

    public required string SecondNodeKey { get; init; }

    public required long GatewayId { get; init; }

    public required string GatewayKey { get; init; }

    public required long ReservationId { get; init; }

    public required long WorkloadId { get; init; }

    public static async Task<GatewayWorld> CreateAsync(GridClient grid)
    {
        var (_, key) = await grid.CreateTwinAsync("tenant");
        var farm = await grid.CreateFarmAsync(key);
        var (nodeId, nodeKey) = await grid.RegisterNodeAsync(key, farm);
        await BeatAsync(grid, nodeId, nodeKey, ["container"], "10.1.2.3");
        var reservationId = (await grid.SendOkAsync(HttpMethod.Post, "/api/v1/reservations", key,
            new { resources = new { cru = 2, mru = 2 * GiB, sru = GiB }, constraints = new { farmIds = new[] { farm }, features = new[] { "container" } } },
            HttpStatusCode.Created))["reservationId"]!.GetValue<long>();

        // The second node comes up after the placement, so the reservation is on the first one.
        var (secondId, secondKey) = await grid.RegisterNodeAsync(key, farm);
        await BeatAsync(grid, secondId, secondKey, ["container"], "10.4.5.6");
        var (_, farmer) = await grid.CreateTwinAsync("gateway farmer");
        var (gatewayId, gatewayKey) = await grid.RegisterNodeAsync(farmer, await grid.CreateFarmAsync(farmer));
        var workloadId = (await grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", key,
            new { name = "web", type = "container", container = new { image = Image, ports = new[] { new { name = "http", port = 8080 } } } },
            HttpStatusCode.Created))["workloadId"]!.GetValue<long>();
        var world = new GatewayWorld(grid)
        {
            Key = key,
            NodeId = nodeId,
            NodeKey = nodeKey,
            SecondNodeId = secondId,
            SecondNodeKey = secondKey,
            GatewayId = gatewayId,
            GatewayKey = gatewayKey,
            ReservationId = reservationId,
            WorkloadId = workloadId,
        };
        await world.GatewayBeatAsync();
        return world;
    }

    /// <summary>A heartbeat of the gateway node (the gateway feature and address), with health reports if given.</summary>
    public Task<JsonNode> GatewayBeatAsync(object? health = null, object? traffic = null, long trafficSequence = 0) =>
        Grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{GatewayId}/heartbeat", GatewayKey, new
        {
            uptime = 10,
            workloads = Array.Empty<object>(),
            features = new[] { "gateway" },
            address = "10.9.9.9",
            gatewayAddress = "0.0.0.0:80",
            health,
            traffic,
            trafficSequence,
        }, HttpStatusCode.OK);

    /// <summary>A node reports the workload in <paramref name="state"/> with its <c>http</c> port at the address.</summary>
    public Task<JsonNode> ReportAsync(long nodeId, string nodeKey, long epoch, string state, string address, int port, string? reason = null) =>
        Grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey, new
        {
            uptime = 10,
            features = new[] { "container" },
            address,
            workloads = new[] { new { workloadId = WorkloadId, epoch, state, reason, endpoints = new[] { new { name = "http", address, port } } } },
        }, HttpStatusCode.OK);

    private static Task<JsonNode> BeatAsync(GridClient grid, long nodeId, string nodeKey, string[] features, string address) =>
        grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey,
            new { uptime = 10, workloads = Array.Empty<object>(), features, address }, HttpStatusCode.OK);
}
