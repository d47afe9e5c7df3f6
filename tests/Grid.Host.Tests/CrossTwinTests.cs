using System.Net;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>A twin never touches another twin's farms, nodes, reservations, workloads or names, nor learns they exist.</summary>
[Collection(GridAppCollection.Name)]
public sealed class CrossTwinTests(GridAppFixture fixture)
{
    private readonly GridClient _grid = fixture.Client;

    [Fact]
    public async Task AnotherTwinsThingsLookExactlyLikeMissingOnes()
    {
        var (_, owner) = await _grid.CreateTwinAsync("owner");
        var (_, intruder) = await _grid.CreateTwinAsync("intruder");
        var farm = await _grid.CreateFarmAsync(owner);
        var (nodeId, _) = await _grid.UpNodeAsync(owner, farm);
        var reservationId = (await _grid.ReserveAsync(owner, new { resources = new { cru = 1, mru = GiB }, constraints = new { farmIds = new[] { farm } } }))
            .Body!["reservationId"]!.GetValue<long>();
        var workloadId = (await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", owner,
            new { name = "w", type = "vm" }, HttpStatusCode.Created))["workloadId"]!.GetValue<long>();
        var name = "cross-" + Guid.NewGuid().ToString("N")[..12];
        await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/names", owner, new { name, backends = new[] { new { url = "http://127.0.0.1:9/" } } }, HttpStatusCode.Created);

        foreach (var (method, path, body) in new (HttpMethod, string, object?)[]
                 {
                     (HttpMethod.Get, $"/api/v1/farms/{farm}", null),
                     (HttpMethod.Post, "/api/v1/nodes", new { farmId = farm, resources = new { cru = 1, mru = 1 }, location = new { country = "BE" } }),
                     (HttpMethod.Get, $"/api/v1/nodes/{nodeId}", null),
                     (HttpMethod.Post, $"/api/v1/nodes/{nodeId}/drain", null),
                     (HttpMethod.Delete, $"/api/v1/nodes/{nodeId}/drain", null),
                     (HttpMethod.Get, $"/api/v1/reservations/{reservationId}", null),
                     (HttpMethod.Get, $"/api/v1/reservations/{reservationId}/events", null),
                     (HttpMethod.Delete, $"/api/v1/reservations/{reservationId}", null),
                     (HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", new { name = "x", type = "vm" }),
                     (HttpMethod.Get, $"/api/v1/workloads/{workloadId}", null),
                     (HttpMethod.Get, $"/api/v1/workloads/{workloadId}/logs", null),
                     (HttpMethod.Delete, $"/api/v1/workloads/{workloadId}", null),
                     (HttpMethod.Get, $"/api/v1/names/{name}", null),
                     (HttpMethod.Put, $"/api/v1/names/{name}", new { backends = new[] { new { url = "http://127.0.0.1:8/" } } }),
                     (HttpMethod.Delete, $"/api/v1/names/{name}", null),
                     (HttpMethod.Post, "/api/v1/names", new { name = "cross-" + Guid.NewGuid().ToString("N")[..12], backends = new[] { new { workloadId, port = "http" } } }),
                 })
        {
            var (status, problem) = await _grid.SendAsync(method, path, intruder, body);
            Assert.True(status == HttpStatusCode.NotFound, $"{method} {path}: {status}");
            Assert.DoesNotContain(owner, problem!.ToJsonString());
        }

        Assert.Empty((await _grid.GetAsync("/api/v1/farms", intruder)).AsArray());
        Assert.Empty((await _grid.GetAsync("/api/v1/names", intruder)).AsArray());
        Assert.Equal(name, (await _grid.GetAsync($"/api/v1/names/{name}", owner))["name"]!.GetValue<string>());
        Assert.Empty((await _grid.GetAsync("/api/v1/nodes", intruder)).AsArray());
        Assert.Equal(0, (await _grid.GetAsync("/api/v1/reservations", intruder))["total"]!.GetValue<int>());
        Assert.Equal("active", (await _grid.GetAsync($"/api/v1/reservations/{reservationId}", owner))["state"]!.GetValue<string>());
        Assert.False((await _grid.GetAsync($"/api/v1/nodes/{nodeId}", owner))["draining"]!.GetValue<bool>());
        Assert.Equal("deploying", (await _grid.GetAsync($"/api/v1/workloads/{workloadId}", owner))["state"]!.GetValue<string>());
    }
}
