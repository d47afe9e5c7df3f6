using System.Text.Json;
using System.Text.Json.Nodes;
using Grid.Testing;

namespace Grid.Host.Tests;

/// <summary>The published ThreeFold client (<c>@threefold/gridproxy_client</c>, unmodified) against our running host.</summary>
[Collection(ProxyGridCollection.Name)]
public sealed class GridProxyClientTests(MemoryProxyGrid grid)
{
    public const string Package = "@threefold/gridproxy_client";
    public const string Version = "2.9.2";

    [Fact]
    public async Task PublishedClientListsFiltersAndReadsOurGrid()
    {
        var modules = await NpmPackage.EnsureAsync(Package, Version);
        NpmPackage.Require("node");
        await Poll.UntilAsync(async () => (await grid.ListAsync($"/contracts?contract_id={grid.PlainReservation}")).Count == 1,
            TimeSpan.FromSeconds(10), "the read model to show the reservations");
        var ids = JsonSerializer.Serialize(new { nodeId = grid.Nodes["n3"], farmName = "alpha-farm", twinId = grid.Tenant, contractId = grid.PlainReservation });
        var script = Path.Combine(AppContext.BaseDirectory, "GridProxyClient", "drive.cjs");

        var (exitCode, output) = await ChildProcess.RunAsync("node", [script, grid.App.Address.ToString().TrimEnd('/'), modules, ids], TimeSpan.FromMinutes(1));

        Assert.True(exitCode == 0, $"the client failed: {output}");
        var got = JsonNode.Parse(output.Split('\n').Single(line => line.StartsWith("{\"nodes\"", StringComparison.Ordinal)))!;
        Assert.Equal(4, got["nodes"]!["count"]!.GetValue<int>());
        Assert.Equal(grid.Nodes["n3"], got["nodes"]!["data"]![0]!["nodeId"]!.GetValue<long>());
        Assert.Equal(2, got["egypt"]!["count"]!.GetValue<int>());
        var node = got["node"]!;
        Assert.Equal(16, node["total_resources"]!["cru"]!.GetValue<long>());
        Assert.Equal("beta-farm", node["farm"]!["name"]!.GetValue<string>());
        Assert.Equal(["alpha-farm"], got["farms"]!["data"]!.AsArray().Select(f => f!["name"]!.GetValue<string>()));
        Assert.Equal(grid.Tenant, got["twins"]!["data"]![0]!["twinId"]!.GetValue<long>());
        Assert.Equal(2, got["contracts"]!["count"]!.GetValue<int>());
        var contract = got["contract"]!["data"]![0]!;
        Assert.Equal(grid.PlainReservation, contract["contract_id"]!.GetValue<long>());
        Assert.Equal(grid.Nodes["n3"], contract["details"]!["nodeId"]!.GetValue<long>());
        Assert.Equal("beta-farm", contract["details"]!["farm_name"]!.GetValue<string>());
        Assert.Equal(4, got["stats"]!["nodes"]!.GetValue<long>());
        Assert.Equal(grid.IpReservation, got["ips"]!["data"]![0]!["contract_id"]!.GetValue<long>());
    }
}
