using System.Net;
using System.Text.Json.Nodes;
using Grid.Testing;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>
/// A node's image cache as its agent reports it: the controller holds the cache's cap out of the node's SSD, so a
/// node of S bytes of sru with a cache of cap C sells at most S - C; the node and the grid proxy show it.
/// </summary>
[Collection(GridAppCollection.Name)]
public sealed class ImageCacheCapacityTests(GridAppFixture fixture)
{
    private readonly GridClient _grid = fixture.Client;

    [Fact]
    public async Task ANodeSellsItsSsdLessItsImageCachesCapAndShowsTheCache()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, nodeKey) = await _grid.RegisterNodeAsync(key, farm, sru: 20 * GiB);

        // The first heartbeat brings the node up with its cache held: it is never schedulable without it.
        await BeatAsync(nodeId, nodeKey, used: 300L << 20, cap: 8 * GiB);
        var node = await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key);
        var (over, _) = await ReserveAsync(key, farm, 12 * GiB + 1);
        var (fits, reservation) = await ReserveAsync(key, farm, 12 * GiB);
        var full = await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key);

        Assert.Equal((300L << 20, 8 * GiB), (node["imageCache"]!["used"]!.GetValue<long>(), node["imageCache"]!["cap"]!.GetValue<long>()));
        Assert.Equal(20 * GiB, node["total"]!["sru"]!.GetValue<long>());
        Assert.Equal(12 * GiB, node["free"]!["sru"]!.GetValue<long>());
        Assert.Equal(HttpStatusCode.Conflict, over);
        Assert.Equal(HttpStatusCode.Created, fits);
        Assert.Equal(nodeId, reservation!["nodeId"]!.GetValue<long>());
        Assert.Equal((12 * GiB, 0L), (full["used"]!["sru"]!.GetValue<long>(), full["free"]!["sru"]!.GetValue<long>()));

        // The grid proxy counts the cache's SSD as used, as ZOS counts its cache's: total - used is what is left.
        await Poll.UntilAsync(async () => await ProxyUsedSruAsync(nodeId) == 20 * GiB, TimeSpan.FromSeconds(20),
            "the proxy shows the reservation and the cache as used");

        // An agent restarted with a smaller cache gives the difference back to reservations.
        await BeatAsync(nodeId, nodeKey, used: 300L << 20, cap: 2 * GiB);
        var (more, _) = await ReserveAsync(key, farm, 6 * GiB);
        Assert.Equal(HttpStatusCode.Created, more);
        Assert.Equal(0, (await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key))["free"]!["sru"]!.GetValue<long>());
    }

    [Fact]
    public async Task ACacheCapAboveTheSsdHoldsAllOfItAndBadNumbersAre400()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, nodeKey) = await _grid.RegisterNodeAsync(key, farm, sru: 4 * GiB);
        await BeatAsync(nodeId, nodeKey, used: 0, cap: 10 * GiB);

        var (none, _) = await ReserveAsync(key, farm, 1);
        var (diskless, _) = await ReserveAsync(key, farm, 0);
        var (bad, problem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey,
            new { uptime = 10, features = new[] { "container" }, imageCache = new { used = -1, cap = GiB } });
        var node = await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key);

        Assert.Equal(HttpStatusCode.Conflict, none);
        Assert.Equal(HttpStatusCode.Created, diskless);
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.NotNull(problem!["errors"]!["imageCache.used"]);
        Assert.Equal((0L, 10 * GiB), (node["free"]!["sru"]!.GetValue<long>(), node["imageCache"]!["cap"]!.GetValue<long>()));
    }

    private Task<JsonNode> BeatAsync(long nodeId, string nodeKey, long used, long cap) =>
        _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey,
            new { uptime = 10, features = new[] { "process", "container" }, imageCache = new { used, cap } }, HttpStatusCode.OK);

    private Task<(HttpStatusCode Status, JsonNode? Body)> ReserveAsync(string key, long farm, long sru) =>
        _grid.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB, sru }, constraints = new { farmIds = new[] { farm } } });

    private async Task<long?> ProxyUsedSruAsync(long nodeId)
    {
        using var response = await fixture.App.Client.GetAsync($"/nodes/{nodeId}");
        return response.IsSuccessStatusCode
            ? JsonNode.Parse(await response.Content.ReadAsStringAsync())?["capacity"]?["used_resources"]?["sru"]?.GetValue<long>()
            : null;
    }
}
