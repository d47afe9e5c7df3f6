using System.Net;
using Grid.Testing;

namespace Grid.Host.Tests;

[Collection(GridAppCollection.Name)]
public sealed class HostEndpointTests(GridAppFixture fixture)
{
    [Fact]
    public async Task HealthOpenApiAndMetricsAreServed()
    {
        var http = fixture.App.Client;

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);
        var openApi = await http.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/api/v1/reservations", openApi);
        Assert.Contains("/api/v1/nodes/{nodeId}/heartbeat", openApi);
        var grid = fixture.Client;
        var (_, key) = await grid.CreateTwinAsync();
        await grid.UpNodeAsync(key, await grid.CreateFarmAsync(key));
        await Poll.UntilAsync(async () => (await http.GetStringAsync("/metrics")).Contains("grid_nodes{", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "metrics show the nodes");
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("grid_capacity_total", metrics);
    }

    [Fact]
    public async Task ClusterListsThisSiloAsActive()
    {
        var grid = fixture.Client;
        var (_, key) = await grid.CreateTwinAsync();

        var silos = (await grid.GetAsync("/api/v1/cluster", key)).AsArray();

        Assert.Contains(silos, s => s!["status"]!.GetValue<string>() == "active");
    }
}
