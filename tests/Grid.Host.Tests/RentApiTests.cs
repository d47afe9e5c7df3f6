using System.Net;
using System.Text.Json.Nodes;
using Grid.Billing;
using Grid.Testing;
using static Grid.Host.Tests.GridClient;
using static Grid.Host.Tests.MarketLedger;

namespace Grid.Host.Tests;

/// <summary>Dedicated nodes (rent contracts) and solution providers through the API, on the in-memory and the PostgreSQL store.</summary>
public sealed class RentApiTests : IAsyncLifetime
{
    private const string OperatorKey = MarketLedger.OperatorKey;

    // 8 cores, 16 GiB RAM, 512 GiB SSD (the test node): 4 CU + 2.56 SU = 528,000 per hour; rented at half price.
    private const long RentPerHour = 264_000;

    private GridApp _app = null!;

    public async Task InitializeAsync() => _app = await GridApp.StartAsync($"--Grid:Billing:OperatorKey={OperatorKey}");

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task ARentedNodeTakesOnlyTheRentersReservationsAndIsBilledWholeAtTheDiscountPerSecond() =>
        await RentScenarioAsync(new GridClient(_app.Client));

    [Fact]
    public async Task RentsAndProviderSharesAreBilledTheSameOnPostgreSql()
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        var connection = await postgres.CreateDatabaseAsync("grid_rents");
        await using var app = await GridApp.StartAsync("--Grid:Storage=postgres", $"--ConnectionStrings:Grid={connection}",
            $"--Grid:Billing:OperatorKey={OperatorKey}");
        var grid = new GridClient(app.Client);
        await RentScenarioAsync(grid);
        await ProviderScenarioAsync(grid);
        await MarketLedger.VerifiesAfterRentProviderSharesAndSpotBillsAsync(app);
    }

    [Fact]
    public async Task TheLedgerVerifiesAfterARentProviderSharesAndSpotBills() =>
        await MarketLedger.VerifiesAfterRentProviderSharesAndSpotBillsAsync(_app);

    [Fact]
    public async Task ARentIsNotBilledWhileItsNodeIsDown()
    {
        var grid = new GridClient(_app.Client);
        var (_, farmer) = await grid.CreateTwinAsync("farmer");
        var (_, tenant) = await grid.CreateTwinAsync("renter");
        var (node, _) = await grid.UpNodeAsync(farmer, await grid.CreateFarmAsync(farmer));
        var contract = await grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{node}/rent", tenant, null, HttpStatusCode.Created);

        // No more heartbeats: the node is declared down after the timeout and its meter stops at its last heartbeat.
        await Poll.UntilAsync(async () => (await grid.GetAsync($"/api/v1/nodes/{node}", farmer))["status"]!.GetValue<string>() == "down",
            TimeSpan.FromSeconds(60), "the node declared down");
        var lastHeartbeat = (await grid.GetAsync($"/api/v1/nodes/{node}", farmer))["lastHeartbeat"]!.GetValue<DateTimeOffset>();
        await grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/nodes/{node}/rent", tenant, null, HttpStatusCode.NoContent);

        var bill = await RentBillAsync(grid, contract["id"]!.GetValue<long>());
        // Nothing at all when the last heartbeat came before the rent's first second (a slow machine may rent a second later).
        var served = Math.Max(0, (long)(Second(lastHeartbeat) - contract["createdAt"]!.GetValue<DateTimeOffset>()).TotalSeconds);
        Assert.Equal(served, bill?["lines"]![0]!["seconds"]!.GetValue<long>() ?? 0);
        Assert.Equal(Pricing.Cost(RentPerHour, served), bill?["amount"]!.GetValue<long>() ?? 0);
    }

    [Fact]
    public async Task AReservationWithASolutionProviderPaysItItsShareOfTheGridsPartOfEveryLine() =>
        await ProviderScenarioAsync(new GridClient(_app.Client));

    [Fact]
    public async Task BadProviderApprovalsAndUnknownProvidersAre400sThatChangeNothing()
    {
        var grid = new GridClient(_app.Client);
        var (twin, tenant) = await grid.CreateTwinAsync("provider");
        foreach (var body in new object[] { new { twinId = twin, share = 0.6 }, new { twinId = twin, share = 0 }, new { twinId = twin, share = -0.1 },
                     new { twinId = 0L, share = 0.1 }, new { twinId = 999_999_999L, share = 0.1 } })
        {
            var (status, problem) = await grid.SendAsync(HttpMethod.Post, "/api/v1/providers", OperatorKey, body);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.True(problem!["errors"]!["share"] is not null || problem["errors"]!["twinId"] is not null, problem.ToJsonString());
        }

        var (asTenant, _) = await grid.SendAsync(HttpMethod.Post, "/api/v1/providers", tenant, new { twinId = twin, share = 0.1 });
        var (unknown, named) = await grid.ReserveAsync(tenant, new { resources = new { cru = 1, mru = GiB }, solutionProvider = twin });

        Assert.Equal(HttpStatusCode.Forbidden, asTenant);
        Assert.Equal(HttpStatusCode.BadRequest, unknown);
        Assert.NotNull(named!["errors"]!["solutionProvider"]);
        Assert.DoesNotContain((await grid.GetAsync("/api/v1/providers", OperatorKey)).AsArray(), p => p!["twinId"]!.GetValue<long>() == twin);
    }

    private static async Task RentScenarioAsync(GridClient grid)
    {
        var (farmerId, farmer) = await grid.CreateTwinAsync("farmer");
        var (renterId, renter) = await grid.CreateTwinAsync("renter");
        var (_, other) = await grid.CreateTwinAsync("other");
        var farm = await grid.CreateFarmAsync(farmer);
        var (node, nodeKey) = await grid.UpNodeAsync(farmer, farm);
        var (spare, spareKey) = await grid.UpNodeAsync(farmer, farm);
        var pinned = new { resources = new { cru = 1, mru = GiB }, constraints = new { nodeId = node } };

        var blocking = (await grid.ReserveAsync(other, pinned)).Body!["reservationId"]!.GetValue<long>();
        var (busy, busyProblem) = await grid.SendAsync(HttpMethod.Post, $"/api/v1/nodes/{node}/rent", renter, null);
        await grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/reservations/{blocking}", other, null, HttpStatusCode.NoContent);
        await grid.HeartbeatAsync(node, nodeKey);
        var contract = await grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{node}/rent", renter, null, HttpStatusCode.Created);
        var (again, _) = await grid.SendAsync(HttpMethod.Post, $"/api/v1/nodes/{node}/rent", other, null);

        Assert.Equal(HttpStatusCode.Conflict, busy);
        Assert.Contains(blocking.ToString(System.Globalization.CultureInfo.InvariantCulture), busyProblem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal((node, renterId, RentPerHour), (contract["nodeId"]!.GetValue<long>(), contract["twinId"]!.GetValue<long>(),
            contract["pricePerHour"]!.GetValue<long>()));
        Assert.Equal(HttpStatusCode.Conflict, again);
        var contractId = contract["id"]!.GetValue<long>();

        // Only the renter's reservations land on it: another twin's pinned one is refused, an unpinned one goes elsewhere.
        await grid.HeartbeatAsync(node, nodeKey);
        await grid.HeartbeatAsync(spare, spareKey);
        var (refused, refusal) = await grid.ReserveAsync(other, pinned);
        var elsewhere = await grid.ReserveAsync(other, new { resources = new { cru = 1, mru = GiB }, constraints = new { farmIds = new[] { farm } } });
        var mine = (await grid.ReserveAsync(renter, pinned)).Body!;
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Contains("rented by another twin", refusal!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(spare, elsewhere.Body!["nodeId"]!.GetValue<long>());
        Assert.Equal(node, mine["nodeId"]!.GetValue<long>());

        // The grid proxy and the rent list show it.
        var row = Assert.Single((await PublicAsync(grid, $"/nodes?node_id={node}&rented=true&rented_by={renterId}")).AsArray())!;
        Assert.Equal((contractId, true, false, renterId), (row["rentContractId"]!.GetValue<long>(), row["rented"]!.GetValue<bool>(),
            row["rentable"]!.GetValue<bool>(), row["rentedByTwinId"]!.GetValue<long>()));
        Assert.Empty((await PublicAsync(grid, $"/nodes?node_id={node}&rentable=true")).AsArray());
        Assert.Empty((await PublicAsync(grid, $"/nodes?node_id={node}&available_for={farmerId}")).AsArray());
        Assert.Equal(contractId, Assert.Single((await grid.GetAsync("/api/v1/rents", renter)).AsArray())!["id"]!.GetValue<long>());
        Assert.Empty((await grid.GetAsync("/api/v1/rents", other)).AsArray());
        Assert.Contains((await grid.GetAsync("/api/v1/rents", OperatorKey)).AsArray(), c => c!["id"]!.GetValue<long>() == contractId);

        // Another twin cannot end it; the renter can: one bill of the whole node at the discount, per second.
        var rentedAt = contract["createdAt"]!.GetValue<DateTimeOffset>();
        await Poll.UntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow - rentedAt > TimeSpan.FromSeconds(3)), TimeSpan.FromSeconds(30), "three seconds rented");
        var (notTheirs, _) = await grid.SendAsync(HttpMethod.Delete, $"/api/v1/nodes/{node}/rent", other, null);
        await grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/nodes/{node}/rent", renter, null, HttpStatusCode.NoContent);
        Assert.Equal(HttpStatusCode.NotFound, notTheirs);
        Assert.Empty((await grid.GetAsync("/api/v1/rents", renter)).AsArray());
        var events = (await grid.GetAsync($"/api/v1/reservations/{mine["reservationId"]}/events", renter)).AsArray();
        Assert.Contains(events, e => e!["kind"]!.GetValue<string>() == "rent-ended");
        // The renter's own reservation cost nothing while the rent paid for the node.
        Assert.Empty((await grid.GetAsync($"/api/v1/reservations/{mine["reservationId"]}/bills", renter)).AsArray());

        var rentBill = await RentBillAsync(grid, contractId);
        var entries = await LedgerAsync(grid);
        Assert.Contains(entries, e => e["kind"]!.GetValue<string>() == "node.rented" && e["subject"]!.GetValue<string>() == $"node:{node}");
        Assert.Contains(entries, e => e["kind"]!.GetValue<string>() == "node.released" && e["subject"]!.GetValue<string>() == $"node:{node}");
        var bill = rentBill ?? throw new Xunit.Sdk.XunitException("the rent of several seconds has no bill");
        var seconds = bill["lines"]![0]!["seconds"]!.GetValue<long>();
        var amount = bill["amount"]!.GetValue<long>();
        Assert.Equal(Pricing.Cost(RentPerHour, seconds), amount);
        Assert.Equal(contractId, bill["rentContractId"]!.GetValue<long>());
        var postings = entries.Single(e => e["subject"]!.GetValue<string>() == $"rent:{contractId}")["postings"]!.AsArray();
        Assert.Equal(-amount, Posted(postings, renterId));
        Assert.Equal(amount * 9 / 10, Posted(postings, farmerId));
        AssertBalanced(entries);
        var released = Assert.Single((await PublicAsync(grid, $"/nodes?node_id={node}")).AsArray())!;
        Assert.False(released["rented"]!.GetValue<bool>());
        await RentContractRowAsync(grid, contractId, renterId, node, farm, amount);
    }

    /// <summary>The rent in the grid proxy's <c>/contracts</c> as ThreeFold answers one: type rent, its node, deleted once ended, its bill.</summary>
    private static async Task RentContractRowAsync(GridClient grid, long contractId, long renterId, long node, long farm, long amount)
    {
        JsonNode? row = null;
        await Poll.UntilAsync(async () => (row = (await PublicAsync(grid, $"/contracts?twin_id={renterId}&type=rent")).AsArray().SingleOrDefault())
            is { } r && r["state"]!.GetValue<string>() == "Deleted", TimeSpan.FromSeconds(30), "the ended rent contract in /contracts");
        Assert.Equal((contractId, renterId, "rent"), (row!["contract_id"]!.GetValue<long>(), row["twin_id"]!.GetValue<long>(), row["type"]!.GetValue<string>()));
        var details = row["details"]!.AsObject();
        Assert.Equal((node, farm), (details["nodeId"]!.GetValue<long>(), details["farm_id"]!.GetValue<long>()));
        Assert.Equal(["farm_id", "farm_name", "nodeId"], details.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("rent", (await PublicAsync(grid, $"/contracts/{contractId}"))["type"]!.GetValue<string>());
        Assert.Contains((await PublicAsync(grid, $"/contracts?node_id={node}")).AsArray(), c => c!["contract_id"]!.GetValue<long>() == contractId);
        Assert.DoesNotContain((await PublicAsync(grid, $"/contracts?twin_id={renterId}&type=node")).AsArray(), c => c!["contract_id"]!.GetValue<long>() == contractId);
        Assert.Equal(amount, (await PublicAsync(grid, $"/contracts/{contractId}/bills")).AsArray().Sum(b => b!["amountBilled"]!.GetValue<long>()));
    }

    private static async Task ProviderScenarioAsync(GridClient grid)
    {
        var (providerId, _) = await grid.CreateTwinAsync("provider");
        var (farmerId, farmer) = await grid.CreateTwinAsync("farmer");
        var (tenantId, tenant) = await grid.CreateTwinAsync("tenant");
        var (_, other) = await grid.CreateTwinAsync("other");
        var farm = await grid.CreateFarmAsync(farmer);
        await grid.UpNodeAsync(farmer, farm);
        var approved = await grid.SendOkAsync(HttpMethod.Post, "/api/v1/providers", OperatorKey, new { twinId = providerId, share = 0.3 }, HttpStatusCode.Created);
        Assert.Equal(300_000, approved["sharePpm"]!.GetValue<int>());

        var reservation = (await grid.ReserveAsync(tenant, new { resources = new { cru = 2, mru = 4 * GiB }, constraints = new { farmIds = new[] { farm } },
            solutionProvider = providerId })).Body!;
        var id = reservation["reservationId"]!.GetValue<long>();
        Assert.Equal(providerId, reservation["solutionProvider"]!.GetValue<long>());
        // A few seconds served, so the bill has an amount to split.
        var created = reservation["createdAt"]!.GetValue<DateTimeOffset>();
        await Poll.UntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow - created > TimeSpan.FromSeconds(3)), TimeSpan.FromSeconds(30), "three seconds served");
        await grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/reservations/{id}", tenant, null, HttpStatusCode.NoContent);
        JsonNode? bill = null;
        await Poll.UntilAsync(async () => (bill = (await grid.GetAsync($"/api/v1/reservations/{id}/bills", tenant)).AsArray().FirstOrDefault()) is not null,
            TimeSpan.FromSeconds(60), "the final bill");

        var amount = bill!["amount"]!.GetValue<long>();
        var expected = bill["lines"]!.AsArray().Sum(l =>
        {
            var line = l!["amount"]!.GetValue<long>();
            return (line - (line * 9 / 10)) * 300_000 / 1_000_000;
        });
        Assert.Equal(providerId, bill["solutionProvider"]!.GetValue<long>());
        Assert.Equal(expected, bill["solutionProviderAmount"]?.GetValue<long>() ?? 0);
        var entries = await LedgerAsync(grid);
        var postings = entries.Single(e => e["eventId"]!.GetValue<string>() == bill["billId"]!.GetValue<string>())["postings"]!.AsArray();
        Assert.Equal((-amount, amount * 9 / 10, expected), (Posted(postings, tenantId), Posted(postings, farmerId), Posted(postings, providerId)));
        Assert.Equal(amount - (amount * 9 / 10) - expected, Posted(postings, Money.GridAccountId));
        AssertBalanced(entries);

        var earnings = await grid.GetAsync($"/api/v1/providers/{providerId}/earnings", OperatorKey);
        var (othersLook, _) = await grid.SendAsync(HttpMethod.Get, $"/api/v1/providers/{providerId}/earnings", other, null);
        Assert.Equal(expected, earnings["amount"]!.GetValue<long>());
        Assert.Equal(HttpStatusCode.NotFound, othersLook);
    }

    /// <summary>The rent's bill once the ledger has it (null when the rent lasted under a second's worth of minor units).</summary>
    private static async Task<JsonNode?> RentBillAsync(GridClient grid, long contractId)
    {
        // The release is recorded after the final bill: once it is in the ledger, so is the bill (if any).
        await Poll.UntilAsync(async () => (await LedgerAsync(grid)).Any(e => e["eventId"]!.GetValue<string>() == $"rent:{contractId}:released"),
            TimeSpan.FromSeconds(30), "the rent's release in the ledger");
        var entry = (await LedgerAsync(grid)).SingleOrDefault(e => e["subject"]!.GetValue<string>() == $"rent:{contractId}");
        return entry is null ? null : JsonNode.Parse(entry["details"]!.GetValue<string>());
    }

    private static Task<JsonNode> PublicAsync(GridClient grid, string path) => grid.SendOkAsync(HttpMethod.Get, path, null, null, HttpStatusCode.OK);

    private static DateTimeOffset Second(DateTimeOffset at) => new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
}
