using System.Net;
using System.Text.Json.Nodes;

namespace Grid.Host.Tests;

/// <summary>Names and their traffic on the bills, the account and the gateway farm's earnings, through the API.</summary>
[Collection(GridAppCollection.Name)]
public sealed class NameBillingApiTests(GridAppFixture fixture)
{
    private readonly GridClient _grid = fixture.Client;

    [Fact]
    public async Task PricesListTheNameAndNetworkPricesBesideCuSuIpuAndAFarmMaySetItsNetworkPrice()
    {
        var (_, farmer) = await _grid.CreateTwinAsync("farmer");
        var farm = await _grid.CreateFarmAsync(farmer);
        var (_, without) = await _grid.CreateTwinAsync("farmer");
        var other = await _grid.CreateFarmAsync(without);

        var set = await _grid.SendOkAsync(HttpMethod.Put, $"/api/v1/farms/{farm}/prices", farmer,
            new { cu = 90_000, su = 45_000, ipu = 35_000, nu = 12_000 }, HttpStatusCode.OK);
        var old = await _grid.SendOkAsync(HttpMethod.Put, $"/api/v1/farms/{other}/prices", without,
            new { cu = 90_000, su = 45_000, ipu = 35_000 }, HttpStatusCode.OK);   // the new field is optional
        var (bad, problem) = await _grid.SendAsync(HttpMethod.Put, $"/api/v1/farms/{farm}/prices", farmer,
            new { cu = 90_000, su = 45_000, ipu = 35_000, nu = -1 });
        var prices = await _grid.GetAsync("/api/v1/prices", farmer);

        var defaults = prices["default"]!;
        Assert.Equal((100_000L, 50_000L, 40_000L, 15_000L, 2_500L), (defaults["cu"]!.GetValue<long>(), defaults["su"]!.GetValue<long>(),
            defaults["ipu"]!.GetValue<long>(), defaults["nu"]!.GetValue<long>(), defaults["name"]!.GetValue<long>()));
        Assert.Equal(12_000, set["prices"]!["nu"]!.GetValue<long>());
        Assert.Null(old["prices"]!["nu"]);
        var listed = prices["farms"]!.AsArray().Single(f => f!["farmId"]!.GetValue<long>() == farm)!;
        Assert.Equal(12_000, listed["prices"]!["nu"]!.GetValue<long>());
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.NotNull(problem!["errors"]!["nu"]);
        Assert.Equal(12_000, (await _grid.GetAsync("/api/v1/prices", farmer))["farms"]!.AsArray()
            .Single(f => f!["farmId"]!.GetValue<long>() == farm)!["prices"]!["nu"]!.GetValue<long>());   // the 400 changed nothing
    }

    [Fact]
    public async Task ReleasingANameBillsItsTimeAndTrafficToTheOwnerAndTheGatewayFarmerEarnsTheShare()
    {
        var (tenantId, tenant) = await _grid.CreateTwinAsync("tenant");
        var (_, farmer) = await _grid.CreateTwinAsync("gateway farmer");
        var farm = await _grid.CreateFarmAsync(farmer);
        await _grid.SendOkAsync(HttpMethod.Put, $"/api/v1/farms/{farm}/prices", farmer,
            new { cu = 100_000, su = 50_000, ipu = 40_000, nu = 20_000 }, HttpStatusCode.OK);
        var (gateway, gatewayKey) = await _grid.RegisterNodeAsync(farmer, farm);
        var name = "b" + Guid.NewGuid().ToString("N")[..12];
        await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/names", tenant,
            new { name, backends = new[] { new { url = "http://127.0.0.1:9" } } }, HttpStatusCode.Created);
        var earnedBefore = await EarningsAsync(farmer, farm);

        await BeatAsync(gateway, gatewayKey, name, 1, 1_500_000_000, 500_000_000);
        await BeatAsync(gateway, gatewayKey, name, 1, 1_500_000_000, 500_000_000);   // resent: counted and billed once
        await _grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/names/{name}", tenant, null, HttpStatusCode.NoContent);
        var bill = Assert.Single((await _grid.GetAsync($"/api/v1/names/{name}/bills", tenant)).AsArray())!;
        var (otherStatus, _) = await _grid.SendAsync(HttpMethod.Get, $"/api/v1/names/{name}/bills", farmer, null);

        var lines = bill["lines"]!.AsArray();
        var traffic = lines.Single(l => l!["kind"]!.GetValue<string>() == "traffic")!;
        Assert.Equal((gateway, farm, 2_000_000_000L, 40_000L), (traffic["nodeId"]!.GetValue<long>(), traffic["farmId"]!.GetValue<long>(),
            traffic["bytes"]!.GetValue<long>(), traffic["amount"]!.GetValue<long>()));   // 2 GB at the farm's 20,000 per GB
        // The seconds the name was held (a few here) at 2,500 per hour, rounded down.
        var held = lines.SingleOrDefault(l => l!["kind"]!.GetValue<string>() == "name");
        var heldAmount = held is null ? 0 : held["amount"]!.GetValue<long>();
        Assert.Equal(held is null ? 0 : held["seconds"]!.GetValue<long>() * 2_500 / 3_600, heldAmount);
        Assert.Equal(40_000 + heldAmount, bill["amount"]!.GetValue<long>());
        Assert.Equal(name, bill["name"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, otherStatus);

        var account = await _grid.GetAsync("/api/v1/account", tenant);
        Assert.Equal(-(40_000 + heldAmount), account["balance"]!.GetValue<long>());
        var transactions = (await _grid.GetAsync("/api/v1/account/transactions", tenant))["items"]!.AsArray();
        Assert.Contains(transactions, t => t!["subject"]!.GetValue<string>() == $"name:{name}" && t["kind"]!.GetValue<string>() == "bill"
            && t["posting"]!.GetValue<long>() == -(40_000 + heldAmount));
        Assert.Equal(earnedBefore + 36_000, await EarningsAsync(farmer, farm));   // floor(40,000 × 0.9)
        Assert.Equal(tenantId, bill["twinId"]!.GetValue<long>());
    }

    private async Task<long> EarningsAsync(string farmer, long farm) =>
        (await _grid.GetAsync($"/api/v1/farms/{farm}/earnings", farmer))["amount"]!.GetValue<long>();

    private Task<JsonNode> BeatAsync(long nodeId, string nodeKey, string name, long sequence, long bytesIn, long bytesOut) =>
        _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey, new
        {
            uptime = 10,
            workloads = Array.Empty<object>(),
            features = new[] { "gateway" },
            gatewayAddress = "0.0.0.0:80",
            traffic = new[] { new { name, bytesIn, bytesOut } },
            trafficSequence = sequence,
        }, HttpStatusCode.OK);
}
