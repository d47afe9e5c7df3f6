using System.Net;
using System.Text.Json.Nodes;
using Grid.Billing;
using Grid.Cli;
using Grid.Testing;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>
/// The marketplace's money in the ledger, read back as a user would: a rent, a spot reservation paying a solution
/// provider until a priority-90 reservation preempts it, and that reservation's bill; then the real
/// <c>grid ledger verify</c> over the API and debits = credits in every entry.
/// </summary>
internal static class MarketLedger
{
    public const string OperatorKey = "operator-secret-for-the-rent-tests";

    /// <summary>Runs the scenario on <paramref name="app"/> (started with <see cref="OperatorKey"/>) and checks the ledger.</summary>
    public static async Task VerifiesAfterRentProviderSharesAndSpotBillsAsync(GridApp app)
    {
        var grid = new GridClient(app.Client);
        var (providerId, providerKey) = await grid.CreateTwinAsync("provider");
        var (farmerId, farmer) = await grid.CreateTwinAsync("farmer");
        var (tenantId, tenant) = await grid.CreateTwinAsync("tenant");
        await grid.SendOkAsync(HttpMethod.Post, "/api/v1/providers", OperatorKey, new { twinId = providerId, share = 0.2 }, HttpStatusCode.Created);
        var farm = await grid.CreateFarmAsync(farmer);
        var (shared, sharedKey) = await grid.UpNodeAsync(farmer, farm, cru: 4, mru: 8 * GiB);
        var (whole, wholeKey) = await grid.UpNodeAsync(farmer, farm);

        var contractId = (await grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{whole}/rent", tenant, null, HttpStatusCode.Created))["id"]!.GetValue<long>();
        var ask = new { resources = new { cru = 4, mru = 8 * GiB }, constraints = new { nodeId = shared } };
        var spot = (await grid.ReserveAsync(tenant, new { ask.resources, ask.constraints, spot = true, solutionProvider = providerId })).Body!;
        var spotId = spot["reservationId"]!.GetValue<long>();
        await SecondsPassAsync(grid, 2, (shared, sharedKey), (whole, wholeKey));
        var (placed, high) = await grid.ReserveAsync(tenant, new { ask.resources, ask.constraints, priority = 90 });
        Assert.Equal(HttpStatusCode.Created, placed);
        var highId = high!["reservationId"]!.GetValue<long>();
        Assert.Equal("preempted", (await grid.GetAsync($"/api/v1/reservations/{spotId}", tenant))["state"]!.GetValue<string>());
        await SecondsPassAsync(grid, 2, (shared, sharedKey), (whole, wholeKey));

        foreach (var id in new[] { spotId, highId })
        {
            await grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/reservations/{id}", tenant, null, HttpStatusCode.NoContent);
        }

        await grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/nodes/{whole}/rent", tenant, null, HttpStatusCode.NoContent);
        var spotBills = await BillsAsync(grid, spotId, tenant);
        var highBills = await BillsAsync(grid, highId, tenant);
        List<JsonNode> entries = [];
        await Poll.UntilAsync(async () => (entries = await LedgerAsync(grid)).Any(e => e["eventId"]!.GetValue<string>() == $"rent:{contractId}:released")
            && spotBills.Concat(highBills).All(b => entries.Any(e => e["eventId"]!.GetValue<string>() == b["billId"]!.GetValue<string>())),
            TimeSpan.FromSeconds(60), "the bills and the rent's release in the ledger");

        // The spot reservation was billed at its spot price for what it served before the preemption, and paid the provider.
        var spotPrice = spot["pricePerHour"]!.GetValue<long>();
        var preemptedAt = (await grid.GetAsync($"/api/v1/reservations/{spotId}/events", tenant)).AsArray()
            .First(e => e!["kind"]!.GetValue<string>() == "preempted")!["at"]!.GetValue<DateTimeOffset>();
        var spotSeconds = spotBills.Sum(b => b["lines"]!.AsArray().Sum(l => l!["seconds"]!.GetValue<long>()));
        Assert.InRange(spotSeconds, 1, (long)(preemptedAt - spot["createdAt"]!.GetValue<DateTimeOffset>()).TotalSeconds + 1);
        Assert.All(spotBills, b => Assert.Equal(Pricing.Cost(spotPrice, b["lines"]!.AsArray().Sum(l => l!["seconds"]!.GetValue<long>())), b["amount"]!.GetValue<long>()));
        var providerPaid = spotBills.Sum(b => Posted(Postings(entries, b), providerId));
        Assert.Equal(spotBills.Sum(b => b["solutionProviderAmount"]?.GetValue<long>() ?? 0), providerPaid);
        Assert.True(providerPaid > 0, "the provider was paid nothing");
        Assert.All(highBills, b => Assert.Equal(0, Posted(Postings(entries, b), providerId)));
        Assert.Contains(entries, e => e["subject"]!.GetValue<string>() == $"rent:{contractId}" && e["kind"]!.GetValue<string>() == "bill");

        // Debits = credits in every entry that moves money between accounts; the tenant paid what the others got.
        AssertBalanced(entries);
        var paid = entries.Where(e => e["kind"]!.GetValue<string>() == "bill").Sum(e => -Posted(e["postings"]!.AsArray(), tenantId));
        var got = entries.Where(e => e["kind"]!.GetValue<string>() == "bill")
            .Sum(e => e["postings"]!.AsArray().Where(p => p!["accountId"]!.GetValue<long>() != tenantId).Sum(p => p!["amount"]!.GetValue<long>()));
        Assert.True(paid > 0);
        Assert.Equal(paid, got);
        Assert.True(Posted(entries.SelectMany(e => e["postings"]?.AsArray() ?? []).OfType<JsonNode>(), farmerId) > 0, "the farmer earned nothing");

        // The real `grid ledger verify`: chain, checkpoints and each twin's account as the API shows it.
        foreach (var key in new[] { tenant, providerKey, farmer })
        {
            var (code, output, error) = await VerifyAsync(app, key);
            Assert.True(code == 0, output + error);
            Assert.Contains("ledger verified", output, StringComparison.Ordinal);
            Assert.Contains("yours matches", output, StringComparison.Ordinal);
        }
    }

    /// <summary>Every ledger entry, read through the public API page by page.</summary>
    public static async Task<List<JsonNode>> LedgerAsync(GridClient grid)
    {
        var entries = new List<JsonNode>();
        for (long from = 1; ; )
        {
            var page = await grid.SendOkAsync(HttpMethod.Get, $"/api/v1/ledger?from={from}&limit=1000", null, null, HttpStatusCode.OK);
            var items = page["entries"]!.AsArray().Select(e => e!).ToList();
            entries.AddRange(items);
            if (items.Count < 1000)
            {
                return entries;
            }

            from = page["next"]!.GetValue<long>();
        }
    }

    /// <summary>Debits equal credits: every entry but deposits and withdrawals posts to zero.</summary>
    public static void AssertBalanced(List<JsonNode> entries) =>
        Assert.All(entries.Where(e => e["kind"]!.GetValue<string>() is not ("deposit" or "withdrawal")),
            e => Assert.Equal(0, (e["postings"]?.AsArray() ?? []).Sum(p => p!["amount"]!.GetValue<long>())));

    public static long Posted(IEnumerable<JsonNode?> postings, long account) =>
        postings.Where(p => p!["accountId"]!.GetValue<long>() == account).Sum(p => p!["amount"]!.GetValue<long>());

    private static JsonArray Postings(List<JsonNode> entries, JsonNode bill) =>
        entries.Single(e => e["eventId"]!.GetValue<string>() == bill["billId"]!.GetValue<string>())["postings"]!.AsArray();

    /// <summary>A cancelled reservation's bills once its final bill is there.</summary>
    private static async Task<List<JsonNode>> BillsAsync(GridClient grid, long reservationId, string key)
    {
        List<JsonNode> bills = [];
        await Poll.UntilAsync(async () => (bills = [.. (await grid.GetAsync($"/api/v1/reservations/{reservationId}/bills", key)).AsArray().Select(b => b!)]).Count > 0,
            TimeSpan.FromSeconds(60), $"reservation {reservationId}'s final bill");
        return bills;
    }

    /// <summary>Lets <paramref name="seconds"/> pass, the nodes heartbeating meanwhile (so none is declared down).</summary>
    private static async Task SecondsPassAsync(GridClient grid, int seconds, params (long NodeId, string Key)[] nodes)
    {
        var until = DateTimeOffset.UtcNow.AddSeconds(seconds);
        await Poll.UntilAsync(async () =>
        {
            await Task.WhenAll(nodes.Select(n => grid.HeartbeatAsync(n.NodeId, n.Key)));
            return DateTimeOffset.UtcNow >= until;
        }, TimeSpan.FromSeconds(seconds + 30), $"{seconds} seconds passed");
    }

    private static async Task<(int Code, string Output, string Error)> VerifyAsync(GridApp app, string key)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await GridCli.RunAsync(["ledger", "verify", "--api", app.Address.ToString(), "--api-key", key], output, error);
        return (code, output.ToString(), error.ToString());
    }
}
