using System.Net;
using System.Text.Json.Nodes;
using Grid.Security;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>The owner's and another twin's things the generated requests aim at.</summary>
public sealed class BadRequestWorld
{
    public required string OwnerKey { get; init; }

    public required long OwnerTwinId { get; init; }

    public required string OwnerSigningKey { get; init; }

    public required long OwnerFarmId { get; init; }

    public required long OwnerNodeId { get; init; }

    public required string OwnerNodeKey { get; init; }

    public required long OwnerReservationId { get; init; }

    public required long OwnerWorkloadId { get; init; }

    public required long OtherTwinId { get; init; }

    public required long OtherFarmId { get; init; }

    public required BadRequest[] OtherTwinsRequests { get; init; }

    public static async Task<BadRequestWorld> CreateAsync(GridClient grid)
    {
        var (ownerId, owner) = await grid.CreateTwinAsync("owner");
        var (otherId, other) = await grid.CreateTwinAsync("other");
        var (privateKey, publicKey) = RequestSignature.NewKeyPair();
        await grid.SendOkAsync(HttpMethod.Put, "/api/v1/twins/me/public-key", owner, new { publicKey }, HttpStatusCode.NoContent);
        var farm = await grid.CreateFarmAsync(owner);
        var otherFarm = await grid.CreateFarmAsync(other);
        var (nodeId, nodeKey) = await grid.UpNodeAsync(owner, farm);
        var reservation = (await grid.ReserveAsync(owner, new { resources = new { cru = 1, mru = GiB }, constraints = new { farmIds = new[] { farm } } }))
            .Body!["reservationId"]!.GetValue<long>();
        var workload = (await grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{reservation}/workloads", owner,
            new { name = "w", type = "vm" }, HttpStatusCode.Created))["workloadId"]!.GetValue<long>();
        return new BadRequestWorld
        {
            OwnerKey = owner,
            OwnerTwinId = ownerId,
            OwnerSigningKey = privateKey,
            OwnerFarmId = farm,
            OwnerNodeId = nodeId,
            OwnerNodeKey = nodeKey,
            OwnerReservationId = reservation,
            OwnerWorkloadId = workload,
            OtherTwinId = otherId,
            OtherFarmId = otherFarm,
            OtherTwinsRequests =
            [
                new("", "GET", $"/api/v1/farms/{farm}", other, null),
                new("", "GET", $"/api/v1/nodes/{nodeId}", other, null),
                new("", "POST", $"/api/v1/nodes/{nodeId}/drain", other, "{}"),
                new("", "DELETE", $"/api/v1/nodes/{nodeId}/drain", other, null),
                new("", "GET", $"/api/v1/reservations/{reservation}", other, null),
                new("", "GET", $"/api/v1/reservations/{reservation}/events", other, null),
                new("", "DELETE", $"/api/v1/reservations/{reservation}", other, null),
                new("", "POST", $"/api/v1/reservations/{reservation}/workloads", other, "{\"name\":\"x\",\"type\":\"vm\"}"),
                new("", "GET", $"/api/v1/workloads/{workload}", other, null),
                new("", "DELETE", $"/api/v1/workloads/{workload}", other, null),
                new("", "DELETE", "/api/v1/keys/1", null, null),
                new("", "POST", $"/api/v1/nodes/{nodeId}/heartbeat", other, "{\"uptime\":1}"),
            ],
        };
    }

    /// <summary>What a user can see of both twins' things; compared before and after.</summary>
    public async Task<string> SnapshotAsync(GridClient grid)
    {
        var parts = new List<string>();
        foreach (var path in new[] { "/api/v1/farms", "/api/v1/nodes", "/api/v1/reservations", $"/api/v1/workloads/{OwnerWorkloadId}", "/api/v1/keys" })
        {
            var json = await grid.GetAsync(path, OwnerKey);
            parts.Add(path + " " + Stable(json).ToJsonString());
        }

        return string.Join('\n', parts);
    }

    // Heartbeat times move by themselves; everything else must not.
    private static JsonNode Stable(JsonNode node)
    {
        var copy = node.DeepClone();
        foreach (var item in copy is JsonArray array ? array.OfType<JsonObject>() : copy is JsonObject single ? [single] : [])
        {
            item.Remove("lastHeartbeat");
            item.Remove("uptime");
        }

        return copy;
    }
}
