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

    [Theory]
    [InlineData("CreateReservationRequest", "resources")]
    [InlineData("ResourcesRequest", "cru,mru,sru,hru")]
    [InlineData("HeartbeatRequest", "uptime,workloads")]
    [InlineData("WorkloadReportRequest", "workloadId,epoch,state,restarts,message")]
    public async Task TheBodiesReadMemberByMemberPublishTheRequiredMembersTheyAlwaysHad(string schema, string required)
    {
        // These are read without their positional constructor (it boxed every number); the schema clients generate
        // code from still names what a body must carry, as it did when the constructor defined it.
        var openApi = System.Text.Json.Nodes.JsonNode.Parse(await fixture.App.Client.GetStringAsync("/openapi/v1.json"))!;

        var published = openApi["components"]!["schemas"]![schema]!["required"]!.AsArray().Select(n => n!.GetValue<string>());

        Assert.Equal(required.Split(','), published);
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
