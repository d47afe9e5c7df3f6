using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Grid.Proxy;
using Grid.Storage;
using Grid.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>The grid-proxy read model in PostgreSQL: the projector's exactly-once fold, its restart and its delay.</summary>
public sealed class ProxyPostgresTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task TwoProjectorsRacingFoldEveryEntryOnceAndAnswerAsTheMemoryModelDoes()
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        var connection = await postgres.CreateDatabaseAsync("proxy_race");
        await PostgresSchema.ApplyAsync(connection, ProxySchema.Scripts);
        await using var source = NpgsqlDataSource.Create(connection);
        var ledger = new PostgresLedgerStore(source);
        var projectors = Enumerable.Range(0, 2)
            .Select(_ => new PostgresProxyProjector(source, Options.Create(new ProxyOptions()), TimeProvider.System, NullLogger<PostgresProxyProjector>.Instance))
            .ToArray();
        var entries = Ledger();

        // Two silos project while the ledger grows, batch after batch (more than one projector batch in all).
        foreach (var chunk in entries.Chunk(700))
        {
            await ledger.AppendAsync(chunk);
            await Task.WhenAll(projectors.Select(p => p.CatchUpAsync(CancellationToken.None)));
        }

        await projectors[0].CatchUpAsync(CancellationToken.None);
        Assert.Equal(entries.Count, await ScalarAsync(source, "SELECT seq FROM grid_proxy_position"));
        Assert.Equal(0, await projectors[1].CatchUpAsync(CancellationToken.None));

        var model = new ProxyReadModel();
        model.Apply(entries);
        IProxyReadStore memory = new MemoryProxyReadStore(model);
        IProxyReadStore durable = new PostgresProxyReadStore(source);
        Assert.Equal(await memory.TotalsAsync(default), await durable.TotalsAsync(default));
        Assert.Equal(Farms(await memory.AllFarmsAsync(default)), Farms(await durable.AllFarmsAsync(default)));
        // 300 took .2 last and moved off the farm (freeing it); 294 took .3 last.
        Assert.Contains("185.69.166.2/24 gw 0, 185.69.166.3/24 gw 294", Farms(await durable.AllFarmsAsync(default)), StringComparison.Ordinal);
        var everyFarm = new FarmFilter(null, null, null, null, null, null, null, null, false);
        foreach (var page in (ProxyLimit[])[new(1, 10, true, false, "used_ips", true), new(2, 1, true, false, "name", false)])
        {
            Assert.Equal(Farms((await memory.FarmsAsync(everyFarm, page, default)).Items), Farms((await durable.FarmsAsync(everyFarm, page, default)).Items));
        }

        var everyIp = new ProxyLimit(1, 1000, true, false, "contract_id", true);
        Assert.Equal(await PageAsync(memory.PublicIpsAsync(new(null, false, null, null), everyIp, default)),
            await PageAsync(durable.PublicIpsAsync(new(null, false, null, null), everyIp, default)));
        var everyTwin = new ProxyLimit(1, 1000, true, false, null, false);
        Assert.Equal(await PageAsync(memory.TwinsAsync(null, everyTwin, default)), await PageAsync(durable.TwinsAsync(null, everyTwin, default)));
        ProxyLimit[] pages =
        [
            new(1, 1000, true, false, null, false),
            new(2, 7, true, false, "state", true),
            new(1, 5, true, false, "created_at", true),
            new(3, 4, true, false, "type", true),
            new(9, 50, true, false, null, false),
        ];
        foreach (var twinId in Enumerable.Range(1, Twins).Select(t => (long)t))
        {
            var expected = ContractsQuery.ConsumptionOf(await memory.BillingAsync(twinId, default));
            var actual = ContractsQuery.ConsumptionOf(await durable.BillingAsync(twinId, default));
            Assert.Equal(expected.OverallConsumption, actual.OverallConsumption, 9);
            Assert.Equal(expected.LastHourConsumption, actual.LastHourConsumption, 9);
            Assert.True(actual.OverallConsumption > 0);
            Assert.Equal(await memory.DeletedContractsAsync(twinId, default), await durable.DeletedContractsAsync(twinId, default));
            foreach (var page in pages)
            {
                var filter = new ContractFilter(null, twinId, null, null, null, null, null, false);
                Assert.Equal(await PageAsync(memory.ContractsAsync(filter, page, default)), await PageAsync(durable.ContractsAsync(filter, page, default)));
            }
        }

        var filters = new ContractFilter[]
        {
            new(null, null, 5, [ProxyEvents.Created, ProxyEvents.GracePeriod], null, null, null, false),
            new(null, null, null, [ProxyEvents.Deleted], 1, null, "FARM-2", false),
            new(77, null, null, null, null, 1, null, false),
        };
        foreach (var filter in filters)
        {
            Assert.Equal(await PageAsync(memory.ContractsAsync(filter, pages[0], default)), await PageAsync(durable.ContractsAsync(filter, pages[0], default)));
        }

        foreach (var contractId in new long[] { 1, 2, 77, 299 })
        {
            Assert.Equal(await memory.ContractAsync(contractId, default), await durable.ContractAsync(contractId, default));
            Assert.Equal(await PageAsync(memory.BillsAsync(contractId, pages[0], default)), await PageAsync(durable.BillsAsync(contractId, pages[0], default)));
        }
    }

    [Fact]
    public async Task ARestartedHostResumesFromThePositionAndShowsANewTwinWithinASecond()
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        var connection = await postgres.CreateDatabaseAsync("proxy_restart");
        string[] settings = ["--Grid:Storage=postgres", $"--ConnectionStrings:Grid={connection}", "--Grid:Limits:RateLimiting=false"];
        long tenant;
        await using (var first = await GridApp.StartAsync(settings))
        {
            var grid = new GridClient(first.Client);
            (tenant, var key) = await grid.CreateTwinAsync("tenant");
            var farm = await grid.CreateFarmAsync(key);
            await grid.UpNodeAsync(key, farm, cru: 4, mru: 8 * GiB);
            Assert.Equal(System.Net.HttpStatusCode.Created, (await grid.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB } })).Status);
            await Poll.UntilAsync(async () => (await first.Client.GetStringAsync($"/contracts?twin_id={tenant}")).Contains("contract_id", StringComparison.Ordinal),
                TimeSpan.FromSeconds(20), "the reservation in /contracts");
        }

        await using var source = NpgsqlDataSource.Create(connection);
        var before = await ScalarAsync(source, "SELECT seq FROM grid_proxy_position");
        // A projector that replayed the ledger from the start would write the twin's registered name back.
        await using (var mark = source.CreateCommand($"UPDATE grid_proxy_twin SET name = 'marked' WHERE twin_id = {tenant}"))
        {
            Assert.Equal(1, await mark.ExecuteNonQueryAsync());
        }

        await using var second = await GridApp.StartAsync(settings);
        var (newcomer, _) = await new GridClient(second.Client).CreateTwinAsync("newcomer");
        await ShownWithinASecondAsync(async () => (await second.Client.GetStringAsync($"/twins?twin_id={newcomer}")).Contains("twinId", StringComparison.Ordinal),
            "the new twin in /twins");
        Assert.True(await ScalarAsync(source, "SELECT seq FROM grid_proxy_position") > before);
        Assert.Equal(1, await ScalarAsync(source, $"SELECT count(*) FROM grid_proxy_twin WHERE twin_id = {tenant} AND name = 'marked'"));
        Assert.Equal(1, await ScalarAsync(source, $"SELECT count(*) FROM grid_proxy_contract WHERE twin_id = {tenant}"));
    }

    [Fact]
    public async Task AFarmsAddressShowsTheReservationHoldingItWithinASecondAndIsFreedByItsCancel()
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        var connection = await postgres.CreateDatabaseAsync("proxy_ips");
        await using var app = await GridApp.StartAsync(["--Grid:Storage=postgres", $"--ConnectionStrings:Grid={connection}", "--Grid:Limits:RateLimiting=false"]);
        var grid = new GridClient(app.Client);
        var (_, key) = await grid.CreateTwinAsync("farmer");
        var farm = await grid.CreateFarmAsync(key, new[] { new { ip = "185.69.166.7/24", gateway = "185.69.166.1" }, new { ip = "185.69.166.8/24", gateway = "185.69.166.1" } },
            name: "ip-farm");
        await grid.UpNodeAsync(key, farm, cru: 4, mru: 8 * GiB);
        async Task<string> HoldersAsync()
        {
            var farms = System.Text.Json.Nodes.JsonNode.Parse(await app.Client.GetStringAsync($"/farms?farm_id={farm}"))!.AsArray();
            return farms.Count == 0 ? "" : string.Join(" ", farms.Single()!["publicIps"]!.AsArray()
                .Select(ip => $"{ip!["ip"]} via {ip["gateway"]}: {ip["contract_id"]}"));
        }

        await Poll.UntilAsync(async () => await HoldersAsync() != "", TimeSpan.FromSeconds(20), "the farm in /farms");
        Assert.Equal("185.69.166.7/24 via 185.69.166.1: 0 185.69.166.8/24 via 185.69.166.1: 0", await HoldersAsync());

        var (status, body) = await grid.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB, ipv4 = 1 } });
        Assert.Equal(System.Net.HttpStatusCode.Created, status);
        var reservation = body!["reservationId"]!.GetValue<long>();
        await ShownWithinASecondAsync(async () => (await HoldersAsync()).Contains($": {reservation}", StringComparison.Ordinal), "the held address in /farms");
        Assert.Single(System.Text.Json.Nodes.JsonNode.Parse(await app.Client.GetStringAsync($"/public_ips?free=false&farm_ids={farm}"))!.AsArray());
        await using (var source = NpgsqlDataSource.Create(connection))
        {
            Assert.Equal(1, await ScalarAsync(source, $"SELECT count(*) FROM grid_proxy_public_ip WHERE contract_id = {reservation}"));
        }

        await grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/reservations/{reservation}", key, null, System.Net.HttpStatusCode.NoContent);
        await ShownWithinASecondAsync(async () => !(await HoldersAsync()).Contains($": {reservation}", StringComparison.Ordinal), "the freed address in /farms");
        Assert.Equal("185.69.166.7/24 via 185.69.166.1: 0 185.69.166.8/24 via 185.69.166.1: 0", await HoldersAsync());
    }

    private const int Twins = 12;

    /// <summary>Polls until <paramref name="shown"/> (20 s at most) and asserts it took under a second.</summary>
    private static async Task ShownWithinASecondAsync(Func<Task<bool>> shown, string what)
    {
        var clock = Stopwatch.StartNew();
        await Poll.UntilAsync(shown, TimeSpan.FromSeconds(20), $"{what} to show", maxPause: TimeSpan.FromMilliseconds(25));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"{what} showed after {clock.Elapsed.TotalMilliseconds:0} ms");
    }

    /// <summary>Twins, two farms, 300 placements (some moved, in grace, resumed or cancelled) and two bills each.</summary>
    private static List<LedgerEntry> Ledger()
    {
        var entries = new List<LedgerEntry>();
        void Add(string kind, string details, long? amount = null) =>
            entries.Add(new LedgerEntry(entries.Count + 1, T0.AddSeconds(entries.Count), kind, $"{kind}:{entries.Count + 1}", "grid", "x", amount,
                ImmutableArray<Posting>.Empty, details, new string('0', 64), new string('0', 64)));

        for (var twin = 1; twin <= Twins; twin++)
        {
            Add("twin.created", $$"""{"twinId":{{twin}},"name":"t{{twin}}"}""");
        }

        Add("farm.registered", """{"farmId":1,"twinId":1,"name":"farm-1","certification":"gold","publicIps":["185.69.166.2/24","185.69.166.3/24"],"gateways":["gw","gw"]}""");
        Add("farm.registered", """{"farmId":2,"twinId":1,"name":"farm-2","certification":"notCertified","publicIps":[]}""");
        Add("deposit", """{"twinId":1}""", 100);
        for (var id = 1; id <= 300; id++)
        {
            // Farm 1's two addresses go to one placement after the other; the last to take one holds it.
            var ips = id % 3 == 0 && id % 2 == 0 ? $"\"185.69.166.{2 + (id % 4 / 2)}/24\"" : "";
            Add("reservation.placed", $$"""{"reservationId":{{id}},"twinId":{{1 + (id % Twins)}},"nodeId":{{id % 9}},"farmId":{{1 + (id % 2)}},"epoch":1,"publicIps":{{(id % 3 == 0 ? 1 : 0)}},"ips":[{{ips}}]}""");
        }

        for (var sequence = 1; sequence <= 2; sequence++)
        {
            for (var id = 1; id <= 300; id++)
            {
                var amount = (id * 1_000) + sequence;
                Add("bill", $$"""{"reservationId":{{id}},"sequence":{{sequence}},"to":"{{T0.AddHours(sequence).AddMinutes(id % 50):O}}","amount":{{amount}},"twinId":{{1 + (id % Twins)}}}""", amount);
            }
        }

        for (var id = 1; id <= 300; id++)
        {
            switch (id % 5)
            {
                case 0:
                    Add("reservation.moved", $$"""{"reservationId":{{id}},"fromNodeId":0,"nodeId":5,"farmId":2,"epoch":2,"ips":[]}""");
                    break;
                case 1:
                    Add("reservation.grace", $$"""{"reservationId":{{id}},"twinId":0}""");
                    break;
                case 2:
                    Add("reservation.cancelled", $$"""{"reservationId":{{id}},"twinId":0,"cause":"tenant"}""");
                    Add("reservation.resumed", $$"""{"reservationId":{{id}},"twinId":0}""");
                    break;
            }
        }

        return entries;
    }

    private static string Farms(IEnumerable<FarmRow> farms) =>
        string.Join(" | ", farms.Select(f => $"{f.FarmId} {f.Name} {f.TwinId} {f.Certification}: {string.Join(", ", f.PublicIps.Select(ip => $"{ip.Ip} {ip.Gateway} {ip.ContractId}"))}"));

    private static async Task<(string Items, long Total)> PageAsync<T>(Task<ProxyPage<T>> page)
    {
        var result = await page;
        return (string.Join(" | ", result.Items), result.Total);
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource source, string sql)
    {
        await using var command = source.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
