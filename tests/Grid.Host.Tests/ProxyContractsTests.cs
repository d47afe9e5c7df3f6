using System.Net;
using Grid.Proxy;
using Grid.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Grid.Host.Tests;

[Collection(ProxyGridCollection.Name)]
public sealed class MemoryProxyContractsTests(MemoryProxyGrid grid) : ProxyContractsTests(grid);

[Collection(PostgresProxyGridCollection.Name)]
public sealed class PostgresProxyContractsTests(PostgresProxyGrid grid) : ProxyContractsTests(grid);

/// <summary>Twins, contracts and bills as the ledger read model answers them over HTTP (in memory and on PostgreSQL).</summary>
public abstract class ProxyContractsTests(ProxyGridFixture grid)
{
    [Fact]
    public void TheStorageModeChoosesTheReadModel() =>
        Assert.IsType(grid.ReadStore, grid.App.Services.GetRequiredService<IProxyReadStore>());

    [Fact]
    public async Task ContractsListTheTwinsReservationsWithFiltersSortsAndCount()
    {
        await WaitForContractsAsync();

        var (_, body, response) = await grid.GetAsync($"/contracts?twin_id={grid.Tenant}&ret_count=true&sort_by=contract_id&sort_order=desc");
        var contracts = body!.AsArray();
        Assert.Equal("2", response.Headers.GetValues("count").Single());
        Assert.Equal(new[] { grid.IpReservation, grid.PlainReservation }.OrderDescending(), contracts.Select(c => c!["contract_id"]!.GetValue<long>()));
        Assert.All(contracts, c => Assert.Equal("Created", c!["state"]!.GetValue<string>()));
        Assert.All(contracts, c => Assert.Equal("node", c!["type"]!.GetValue<string>()));

        Assert.Equal(grid.IpReservation, (await grid.ListAsync($"/contracts?twin_id={grid.Tenant}&number_of_public_ips=1")).Single()!["contract_id"]!.GetValue<long>());
        Assert.Equal(grid.PlainReservation, (await grid.ListAsync($"/contracts?node_id={grid.Nodes["n3"]}")).Single()!["contract_id"]!.GetValue<long>());
        Assert.Equal(grid.PlainReservation, (await grid.ListAsync("/contracts?farm_name=BETA-FARM")).Single()!["contract_id"]!.GetValue<long>());
        Assert.Equal(grid.IpReservation, (await grid.ListAsync($"/contracts?farm_id={grid.Alpha}")).Single()!["contract_id"]!.GetValue<long>());
        Assert.Equal(2, (await grid.ListAsync($"/contracts?twin_id={grid.Tenant}&state=Created,GracePeriod&type=node")).Count);
        Assert.Empty(await grid.ListAsync($"/contracts?twin_id={grid.Tenant}&state=Deleted"));
        Assert.Empty(await grid.ListAsync($"/contracts?twin_id={grid.Tenant}&type=rent"));
        Assert.Empty(await grid.ListAsync($"/contracts?twin_id={grid.Farmer}"));
        Assert.Single(await grid.ListAsync($"/contracts?twin_id={grid.Tenant}&size=1&page=2&sort_by=created_at"));
    }

    [Fact]
    public async Task OneContractShowsItsNodeAndFarmAndItsBills()
    {
        await WaitForContractsAsync();

        var contract = (await grid.GetAsync($"/contracts/{grid.IpReservation}")).Body!;
        Assert.Equal(grid.Tenant, contract["twin_id"]!.GetValue<long>());
        Assert.Equal(grid.Nodes["n1"], contract["details"]!["nodeId"]!.GetValue<long>());
        Assert.Equal("alpha-farm", contract["details"]!["farm_name"]!.GetValue<string>());
        Assert.Equal(1, contract["details"]!["number_of_public_ips"]!.GetValue<int>());
        Assert.True(contract["created_at"]!.GetValue<long>() > 1_700_000_000);
        Assert.Equal(HttpStatusCode.NotFound, (await grid.GetAsync("/contracts/987654321")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await grid.GetAsync("/contracts/987654321/bills")).Status);
        var (status, bills, response) = await grid.GetAsync($"/contracts/{grid.IpReservation}/bills?ret_count=true");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(bills!.AsArray().Count.ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers.GetValues("count").Single());
    }

    [Fact]
    public async Task TwinsAreListedAndANewTwinShowsUpFromItsLedgerEntry()
    {
        var twins = await grid.ListAsync($"/twins?twin_id={grid.Tenant}");
        Assert.Equal(grid.Tenant, twins.Single()!["twinId"]!.GetValue<long>());
        Assert.Empty(await grid.ListAsync($"/twins?twin_id={grid.Tenant}&relay=relay.grid.tf"));

        var (twinId, _) = await new GridClient(grid.Http).CreateTwinAsync("newcomer");
        await Poll.UntilAsync(async () => (await grid.ListAsync($"/twins?twin_id={twinId}")).Count == 1,
            TimeSpan.FromSeconds(10), "the new twin in /twins");
        var consumption = (await grid.GetAsync($"/twins/{twinId}/consumption")).Body!;
        Assert.Equal(0, consumption["overall_consumption"]!.GetValue<double>());
        Assert.Equal(0, consumption["last_hour_consumption"]!.GetValue<double>());
    }

    private Task WaitForContractsAsync() =>
        Poll.UntilAsync(async () => (await grid.ListAsync($"/contracts?twin_id={grid.Tenant}")).Count == 2,
            TimeSpan.FromSeconds(10), "both reservations as contracts");
}
