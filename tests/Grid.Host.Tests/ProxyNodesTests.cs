using System.Net;
using System.Text.Json.Nodes;
using Grid.Proxy;

namespace Grid.Host.Tests;

[Collection(ProxyGridCollection.Name)]
public sealed class ProxyNodesTests(MemoryProxyGrid grid)
{
    private const long GiB = ProxyGridFixture.GiB;

    public static TheoryData<string, string> NodeFilters => new()
    {
        { "status=up", "n1 n2 n3 n5" },
        { "status=down", "n4" },
        { "status=up,down", "n1 n2 n3 n4 n5" },
        { "status=standby", "" },
        { $"free_mru={16 * GiB}", "n2 n3 n4" },
        { $"free_sru={300 * GiB}", "n3 n4" },
        { $"free_hru={1000 * GiB}", "n2 n3" },
        { "total_cru=16", "n3 n4" },
        { $"total_mru={32 * GiB}", "n3 n4" },
        { $"total_sru={200 * GiB}", "n2 n3 n4" },
        { $"total_hru={500 * GiB}", "n2 n3 n5" },
        { "country=belgium", "n1 n2" },
        { "country_contains=GYP", "n3 n5" },
        { "city=cairo", "n3" },
        { "city_contains=en", "n1 n4" },
        { "region=europe", "" },
        { "farm_ids={beta}", "n3 n4" },
        { "farm_ids={alpha},{beta}", "n1 n2 n3 n4 n5" },
        { "farm_name=ALPHA-farm", "n1 n2 n5" },
        { "farm_name_contains=bet", "n3 n4" },
        { "free_ips=1", "n1 n2 n5" },
        { "free_ips=2", "" },
        { "ipv4=true", "" },
        { "ipv4=false", "n1 n2 n3 n4 n5" },
        { "ipv6=true", "" },
        { "domain=true", "" },
        { "dedicated=true", "" },
        { "dedicated=false", "n1 n2 n3 n4 n5" },
        // Rentable as ThreeFold's proxy has it: no rent contract and nobody's reservation (n1 and n3 hold the tenant's).
        { "rentable=true", "n2 n4 n5" },
        { "rentable=false", "n1 n3" },
        { "rented=true", "" },
        { "rentable_or_rented_by={tenant}", "n2 n4 n5" },
        { "rented=false", "n1 n2 n3 n4 n5" },
        { "rented_by={tenant}", "" },
        { "available_for={tenant}", "n1 n2 n3 n4 n5" },
        { "owned_by={farmer}", "n1 n2 n3 n4 n5" },
        { "owned_by={tenant}", "" },
        { "node_id={n3}", "n3" },
        { "node_ids={n1},{n4}", "n1 n4" },
        { "twin_id={farmer}", "n1 n2 n3 n4 n5" },
        { "certification_type=Certified", "n1 n4" },
        { "certification_type=diy", "n2 n3 n5" },
        { "has_gpu=true", "" },
        { "has_gpu=false", "n1 n2 n3 n4 n5" },
        { "num_gpu=1", "" },
        { "healthy=true", "n1 n2 n3 n5" },
        { "healthy=false", "n4" },
        { "excluded={n1},{n2}", "n3 n4 n5" },
        { "price_min=1", "" },
        { "features=zdb", "" },
        { "has_ipv6=true", "" },
        { "status=up&country=egypt&free_mru=1", "n3 n5" },
    };

    [Theory]
    [MemberData(nameof(NodeFilters))]
    public async Task EachNodeFilterSelectsExactlyTheMatchingNodes(string filter, string expected)
    {
        var nodes = await grid.ListAsync($"/nodes?size=100&{grid.Fill(filter)}");

        Assert.Equal(expected, string.Join(' ', nodes.Select(n => grid.NameOf(n!["nodeId"]!.GetValue<long>())).Order()));
    }

    [Fact]
    public async Task EverySortKeyOrdersNodesBothWays()
    {
        foreach (var key in NodeQuery.SortKeys)
        {
            foreach (var order in (string[])["asc", "desc"])
            {
                var nodes = (await grid.ListAsync($"/nodes?size=100&sort_by={key}&sort_order={order}")).Select(n => n!).ToList();
                Assert.Equal(5, nodes.Count);
                var keyed = nodes.Select(n => (Key: SortValue(key, n), Id: n["nodeId"]!.GetValue<long>())).ToList();
                var expected = keyed.OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase).ThenBy(k => k.Id).ToList();
                if (order == "desc")
                {
                    expected.Reverse();
                }

                if (key is "uptime" or "created" or "updated_at")
                {
                    // Sorted by the exact times; the answer shows whole seconds, so only the values' order is checked.
                    Assert.True(keyed.Select(k => k.Key).SequenceEqual(expected.Select(k => k.Key)), $"{key} {order}: {string.Join(",", keyed)}");
                }
                else
                {
                    Assert.True(keyed.SequenceEqual(expected), $"{key} {order}: {string.Join(",", keyed)}");
                }
            }
        }
    }

    [Fact]
    public async Task SortingByTotalCruDescendingPutsTheBiggestNodeFirst()
    {
        var nodes = await grid.ListAsync("/nodes?sort_by=total_cru&sort_order=DESC");

        Assert.Equal(["n4", "n3", "n2", "n1", "n5"], nodes.Select(n => grid.NameOf(n!["nodeId"]!.GetValue<long>())));
    }

    [Fact]
    public async Task PagesCutTheSortedListAndCountIsInTheHeaders()
    {
        var seen = new List<long>();
        for (var page = 1; page <= 3; page++)
        {
            var (status, body, response) = await grid.GetAsync($"/nodes?size=2&page={page}&ret_count=true&sort_by=node_id");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("5", response.Headers.GetValues("count").Single());
            Assert.Equal("3", response.Headers.GetValues("pages").Single());
            Assert.Equal(page == 3 ? 1 : 2, body!.AsArray().Count);
            seen.AddRange(body.AsArray().Select(n => n!["nodeId"]!.GetValue<long>()));
        }

        Assert.Equal(grid.Nodes.Values.Order(), seen);
        var (_, _, withoutCount) = await grid.GetAsync("/nodes?size=2");
        Assert.False(withoutCount.Headers.Contains("count"));
        Assert.Empty(await grid.ListAsync("/nodes?size=2&page=4"));
        var (_, filtered, filteredResponse) = await grid.GetAsync("/nodes?status=down&ret_count=true");
        Assert.Equal("1", filteredResponse.Headers.GetValues("count").Single());
        Assert.Single(filtered!.AsArray());
        var shuffled = await grid.ListAsync("/nodes?randomize=true&status=up&size=100");
        Assert.Equal(["n1", "n2", "n3", "n5"], shuffled.Select(n => grid.NameOf(n!["nodeId"]!.GetValue<long>())).Order());
    }

    [Fact]
    public async Task OneNodeShowsItsCapacityNestedAndItsFarm()
    {
        var node = (await grid.GetAsync($"/nodes/{grid.Nodes["n3"]}")).Body!;

        Assert.Equal("beta-farm", node["farmName"]!.GetValue<string>());
        Assert.Equal(16, node["capacity"]!["total_resources"]!["cru"]!.GetValue<long>());
        Assert.Equal(2, node["capacity"]!["used_resources"]!["cru"]!.GetValue<long>());
        Assert.Equal(8 * GiB, node["capacity"]!["used_resources"]!["mru"]!.GetValue<long>());
        Assert.Equal("up", node["status"]!.GetValue<string>());
        Assert.Equal("Cairo", node["location"]!["city"]!.GetValue<string>());
        Assert.True(node["uptime"]!.GetValue<long>() >= 10, "the heartbeat reported 10 s of uptime");
        Assert.Null(node["total_resources"]);
        var listed = (await grid.ListAsync($"/nodes?node_id={grid.Nodes["n1"]}")).Single()!;
        Assert.Equal(1, listed["used_resources"]!["cru"]!.GetValue<long>());
        Assert.Equal(1, listed["farm_free_ips"]!.GetValue<int>());
    }

    [Fact]
    public async Task NodeStatusFollowsHealthAndUnknownNodesAre404()
    {
        Assert.Equal("down", (await grid.GetAsync($"/nodes/{grid.Nodes["n4"]}/status")).Body!["status"]!.GetValue<string>());
        Assert.Equal("up", (await grid.GetAsync($"/nodes/{grid.Nodes["n1"]}/status")).Body!["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await grid.GetAsync("/nodes/987654321")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await grid.GetAsync("/nodes/987654321/status")).Status);
    }

    private static string SortValue(string key, JsonNode node)
    {
        static long Long(JsonNode? n) => n!.GetValue<long>();
        var value = key switch
        {
            "node_id" => Long(node["nodeId"]),
            "farm_id" => Long(node["farmId"]),
            "twin_id" => Long(node["twinId"]),
            "uptime" => Long(node["uptime"]),
            "created" => Long(node["created"]),
            "updated_at" => Long(node["updatedAt"]),
            "free_cru" => Long(node["total_resources"]!["cru"]) - Long(node["used_resources"]!["cru"]),
            "status" => node["status"]!.GetValue<string>() switch { "up" => 1, "standby" => 2, _ => 3 },
            "rent_contract_id" => Long(node["rentContractId"]),
            "num_gpu" => Long(node["num_gpu"]),
            "extra_fee" => Long(node["extraFee"]),
            "price_usd" => (long)node["price_usd"]!.GetValue<double>(),
            "dedicated_farm" => node["inDedicatedFarm"]!.GetValue<bool>() ? 1 : 0,
            "rented" or "rentable" => node[key]!.GetValue<bool>() ? 1 : 0,
            "country" or "city" => (long?)null,
            "farm_name" => null,
            _ when key.StartsWith("total_", StringComparison.Ordinal) => Long(node["total_resources"]![key[6..]]),
            _ when key.StartsWith("used_", StringComparison.Ordinal) => Long(node["used_resources"]![key[5..]]),
            _ => throw new InvalidOperationException($"The test does not know sort key {key}."),
        };
        return value is { } number
            ? number.ToString("D20", System.Globalization.CultureInfo.InvariantCulture)
            : node[key == "farm_name" ? "farmName" : key]!.GetValue<string>();
    }
}
