using System.Net;
using Grid.Testing;

namespace Grid.Host.Tests;

[Collection(ProxyGridCollection.Name)]
public sealed class MemoryProxyFarmsAndStatsTests(MemoryProxyGrid grid) : ProxyFarmsAndStatsTests(grid);

[Collection(PostgresProxyGridCollection.Name)]
public sealed class PostgresProxyFarmsAndStatsTests(PostgresProxyGrid grid) : ProxyFarmsAndStatsTests(grid);

/// <summary>Farms, public IPs, stats and bad parameters against the known grid (in memory and on PostgreSQL).</summary>
public abstract class ProxyFarmsAndStatsTests(ProxyGridFixture grid)
{
    private const long GiB = ProxyGridFixture.GiB;

    public static TheoryData<string, string> FarmFilters => new()
    {
        { "", "alpha-farm beta-farm" },
        { "name=ALPHA-FARM", "alpha-farm" },
        { "name_contains=eta", "beta-farm" },
        { "free_ips=1", "alpha-farm" },
        { "total_ips=2", "alpha-farm" },
        { "certification_type=Gold", "alpha-farm" },
        { "certification_type=NotCertified", "beta-farm" },
        { "farm_id={beta}", "beta-farm" },
        { "twin_id={farmer}", "alpha-farm beta-farm" },
        { "twin_id={tenant}", "" },
        { "dedicated=true", "" },
        { $"node_free_mru={40 * GiB}", "beta-farm" },
        { $"node_free_hru={1500 * GiB}", "beta-farm" },
        { $"node_free_sru={150 * GiB}", "alpha-farm beta-farm" },
        { "node_total_cru=32", "beta-farm" },
        { "node_status=down", "beta-farm" },
        { "node_certified=true", "alpha-farm beta-farm" },
        { "node_certified=true&node_status=up", "alpha-farm" },
        { "country=austria", "beta-farm" },
        { "node_has_gpu=true", "" },
        { "node_rented_by={tenant}", "" },
        { "node_available_for={tenant}", "alpha-farm beta-farm" },
    };

    [Theory]
    [MemberData(nameof(FarmFilters), MemberType = typeof(ProxyFarmsAndStatsTests))]
    public async Task EachFarmFilterSelectsExactlyTheMatchingFarms(string filter, string expected)
    {
        var farms = await grid.ListAsync($"/farms?{grid.Fill(filter)}");

        Assert.Equal(expected, string.Join(' ', farms.Select(f => f!["name"]!.GetValue<string>()).Order()));
    }

    [Fact]
    public async Task FarmsShowWhichContractHoldsEachAddressAndSortByIps()
    {
        var alpha = (await grid.ListAsync($"/farms?farm_id={grid.Alpha}")).Single()!;
        var ips = alpha["publicIps"]!.AsArray();

        Assert.Equal(2, ips.Count);
        Assert.Contains(ips, ip => ip!["contract_id"]!.GetValue<long>() == grid.IpReservation);
        Assert.Contains(ips, ip => ip!["contract_id"]!.GetValue<long>() == 0);
        Assert.Equal("Gold", alpha["certificationType"]!.GetValue<string>());
        Assert.Equal(grid.Farmer, alpha["twinId"]!.GetValue<long>());
        Assert.Equal(["beta-farm", "alpha-farm"], (await grid.ListAsync("/farms?sort_by=total_ips")).Select(f => f!["name"]!.GetValue<string>()));
        Assert.Equal(["alpha-farm", "beta-farm"], (await grid.ListAsync("/farms?sort_by=used_ips&sort_order=desc")).Select(f => f!["name"]!.GetValue<string>()));
        Assert.Equal(["beta-farm", "alpha-farm"], (await grid.ListAsync("/farms?sort_by=name&sort_order=desc")).Select(f => f!["name"]!.GetValue<string>()));
        var (_, page, response) = await grid.GetAsync("/farms?size=1&page=2&ret_count=true&sort_by=farm_id");
        Assert.Equal("2", response.Headers.GetValues("count").Single());
        Assert.Equal("beta-farm", page!.AsArray().Single()!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task PublicIpsFilterByFarmAndByWhetherTheyAreFree()
    {
        var held = (await grid.ListAsync("/public_ips?free=false")).Single()!;
        Assert.Equal(grid.IpReservation, held["contract_id"]!.GetValue<long>());
        Assert.Equal(grid.Alpha, held["farm_id"]!.GetValue<long>());
        var free = (await grid.ListAsync("/public_ips?free=true")).Single()!;
        Assert.Equal(0, free["contract_id"]!.GetValue<long>());
        Assert.NotEqual(held["ip"]!.GetValue<string>(), free["ip"]!.GetValue<string>());
        Assert.Empty(await grid.ListAsync($"/public_ips?farm_ids={grid.Beta}"));
        Assert.Equal(2, (await grid.ListAsync($"/public_ips?farm_ids={grid.Alpha}&sort_by=ip&sort_order=desc")).Count);
        Assert.Equal("185.69.166.3/24", (await grid.ListAsync("/public_ips?sort_by=ip&sort_order=desc")).First()!["ip"]!.GetValue<string>());
    }

    [Fact]
    public async Task StatsCountNodesCapacityAndCountriesByStatus()
    {
        // Gateways as ThreeFold's grid proxy counts them: nodes (of the status asked) that serve names; here n5 reports the feature.
        await Poll.UntilAsync(async () => (await grid.GetAsync("/stats")).Body!["gateways"]!.GetValue<long>() == 1,
            TimeSpan.FromSeconds(30), "the gateway node n5 in /stats");
        var all = (await grid.GetAsync("/stats")).Body!;
        Assert.Equal(5, all["nodes"]!.GetValue<long>());
        Assert.Equal(2, all["farms"]!.GetValue<long>());
        Assert.Equal(3, all["countries"]!.GetValue<long>());
        Assert.Equal(4 + 8 + 16 + 32 + 2, all["totalCru"]!.GetValue<long>());
        Assert.Equal((8 + 16 + 32 + 64 + 4) * GiB, all["totalMru"]!.GetValue<long>());
        Assert.Equal(2, all["publicIps"]!.GetValue<long>());
        Assert.Equal(2, all["nodesDistribution"]!["Egypt"]!.GetValue<long>());
        Assert.Equal(1, all["workloads_number"]!.GetValue<long>());

        var up = (await grid.GetAsync("/stats?status=up")).Body!;
        Assert.Equal(4, up["nodes"]!.GetValue<long>());
        Assert.Equal(2, up["countries"]!.GetValue<long>());
        Assert.Equal(4 + 8 + 16 + 2, up["totalCru"]!.GetValue<long>());
        Assert.Null(up["nodesDistribution"]!["Austria"]);
        Assert.Equal(1, up["gateways"]!.GetValue<long>());
        var down = (await grid.GetAsync("/stats?status=down")).Body!;
        Assert.Equal(32, down["totalCru"]!.GetValue<long>());
        Assert.Equal(0, down["gateways"]!.GetValue<long>());
    }

    [Fact]
    public async Task PingAndVersionAnswer()
    {
        Assert.Equal("pong", (await grid.GetAsync("/ping")).Body!["ping"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty((await grid.GetAsync("/version")).Body!["version"]!.GetValue<string>()));
    }

    public static TheoryData<string, string> BadQueries => new()
    {
        { "/nodes?free_mru=abc", "free_mru" },
        { "/nodes?free_mru=-1", "free_mru" },
        { "/nodes?status=sideways", "status" },
        { "/nodes?sort_by=nope", "sort_by" },
        { "/nodes?sort_order=upwards", "sort_order" },
        { "/nodes?size=0", "size" },
        { "/nodes?size=1001", "size" },
        { "/nodes?page=0", "page" },
        { "/nodes?ret_count=maybe", "ret_count" },
        { "/nodes?farm_ids=1,x", "farm_ids" },
        { "/nodes?features=teleport", "features" },
        { "/nodes?price_max=cheap", "price_max" },
        { "/nodes?bogus=1", "bogus" },
        { "/farms?node_status=x", "node_status" },
        { "/farms?free_ips=lots", "free_ips" },
        { "/farms?sort_by=free_cru", "sort_by" },
        { "/contracts?state=Alive", "state" },
        { "/contracts?twin_id=-1", "twin_id" },
        { "/contracts?sort_by=node_id", "sort_by" },
        { "/twins?twin_id=x", "twin_id" },
        { "/twins?node_id=1", "node_id" },
        { "/public_ips?free=2", "free" },
        { "/stats?status=x", "status" },
        { "/contracts/1/bills?size=abc", "size" },
    };

    [Theory]
    [MemberData(nameof(BadQueries), MemberType = typeof(ProxyFarmsAndStatsTests))]
    public async Task BadParametersAre400NamingTheParameter(string path, string parameter)
    {
        var (status, body, _) = await grid.GetAsync(path);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(body!["errors"]![parameter]);
        Assert.StartsWith(parameter + ":", body["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
