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

        // Gauges appear in a scrape once the view holds the node: wait for everything asserted, not just the first.
        await Poll.UntilAsync(async () => await http.GetStringAsync("/metrics") is var metrics
                && metrics.Contains("grid_nodes{", StringComparison.Ordinal) && metrics.Contains("grid_capacity_total", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "metrics show the nodes and their capacity");
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
