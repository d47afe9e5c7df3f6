using System.Globalization;
using System.Net;
using System.Text.Json;
using Grid.Grains;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json.Nodes;
using Grid.Testing;

namespace Grid.Host.Tests;

/// <summary>
/// A grid of its own for the grid-proxy tests, known node by node, so every filter has an exact expected answer:
/// farmer twin with farm <c>alpha-farm</c> (Gold, two public IPs) and <c>beta-farm</c> (no IPs); nodes n1…n5;
/// a tenant holding one reservation with an IPv4 on n1 and one on n3. n4 never heartbeats, so it is down.
/// Heartbeat timeouts are long so no node goes down while the tests run.
/// </summary>
public sealed class ProxyGridFixture : IAsyncLifetime
{
    public const long GiB = GridClient.GiB;

    public GridApp App { get; private set; } = null!;

    public HttpClient Http => App.Client;

    public long Farmer { get; private set; }

    public long Tenant { get; private set; }

    public long Alpha { get; private set; }

    public long Beta { get; private set; }

    /// <summary>Node ids by name: n1…n5.</summary>
    public Dictionary<string, long> Nodes { get; } = [];

    public long IpReservation { get; private set; }

    public long PlainReservation { get; private set; }

    public async Task InitializeAsync()
    {
        App = await GridApp.StartAsync(
            "--Grid:Health:HeartbeatTimeout=00:30:00",
            "--Grid:Health:HeartbeatInterval=00:10:00",
            "--Grid:Proxy:FarmRefreshInterval=00:00:00.100",
            // Hundreds of anonymous reads from one address: the per-IP limit is the limits tests' subject, not these.
            "--Grid:Limits:RateLimiting=false");
        var grid = new GridClient(App.Client);
        (Farmer, var farmerKey) = await grid.CreateTwinAsync("farmer");
        (Tenant, var tenantKey) = await grid.CreateTwinAsync("tenant");
        Alpha = await CreateFarmAsync(grid, farmerKey, "alpha-farm", "gold",
            [new { ip = "185.69.166.2/24", gateway = "185.69.166.1" }, new { ip = "185.69.166.3/24", gateway = "185.69.166.1" }]);
        Beta = await CreateFarmAsync(grid, farmerKey, "beta-farm", "notCertified", []);

        await AddNodeAsync(grid, farmerKey, "n1", Alpha, 4, 8, 100, 0, "Belgium", "Ghent", "certified", up: true);
        await AddNodeAsync(grid, farmerKey, "n2", Alpha, 8, 16, 200, 1000, "Belgium", "Brussels", "diy", up: true);
        await AddNodeAsync(grid, farmerKey, "n3", Beta, 16, 32, 400, 2000, "Egypt", "Cairo", "diy", up: true);
        await AddNodeAsync(grid, farmerKey, "n4", Beta, 32, 64, 800, 0, "Austria", "Vienna", "certified", up: false);
        await AddNodeAsync(grid, farmerKey, "n5", Alpha, 2, 4, 50, 500, "Egypt", "Alexandria", "diy", up: true);

        IpReservation = await ReserveAsync(grid, tenantKey, Nodes["n1"], cru: 1, mru: 1 * GiB, ipv4: 1);
        PlainReservation = await ReserveAsync(grid, tenantKey, Nodes["n3"], cru: 2, mru: 8 * GiB, ipv4: 0);
        await RecordPlacedAsync(IpReservation, Nodes["n1"], Alpha, publicIps: 1);
        await RecordPlacedAsync(PlainReservation, Nodes["n3"], Beta, publicIps: 0);

        // The farm directory follows the farm grains on its own schedule: wait until it shows the held address.
        await Poll.UntilAsync(async () =>
            (await App.Client.GetStringAsync($"/public_ips?free=false")).Contains($"\"contract_id\":{IpReservation}", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the farm directory to show the reserved address");
    }

    public async Task DisposeAsync() => await App.DisposeAsync();

    public string NameOf(long nodeId) => Nodes.Single(n => n.Value == nodeId).Key;

    /// <summary>Replaces <c>{n1}</c>…, <c>{alpha}</c>, <c>{beta}</c>, <c>{farmer}</c>, <c>{tenant}</c> with their ids.</summary>
    public string Fill(string text)
    {
        var ids = new Dictionary<string, long>(Nodes) { ["alpha"] = Alpha, ["beta"] = Beta, ["farmer"] = Farmer, ["tenant"] = Tenant };
        foreach (var (name, id) in ids)
        {
            text = text.Replace($"{{{name}}}", id.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        }

        return text;
    }

    public async Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> GetAsync(string path)
    {
        var response = await Http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, string.IsNullOrEmpty(text) ? null : JsonNode.Parse(text), response);
    }

    public async Task<JsonArray> ListAsync(string path)
    {
        var (status, body, _) = await GetAsync(path);
        Assert.True(status == HttpStatusCode.OK, $"GET {path}: {status} {body?.ToJsonString()}");
        return body!.AsArray();
    }

    private static async Task<long> CreateFarmAsync(GridClient grid, string key, string name, string certification, object[] ips)
    {
        var json = await grid.SendOkAsync(HttpMethod.Post, "/api/v1/farms", key, new { name, certification, publicIps = ips }, HttpStatusCode.Created);
        return json["farmId"]!.GetValue<long>();
    }

    private async Task AddNodeAsync(
        GridClient grid, string key, string name, long farmId, long cru, long mruGiB, long sruGiB, long hruGiB,
        string country, string city, string certification, bool up)
    {
        var json = await grid.SendOkAsync(HttpMethod.Post, "/api/v1/nodes", key, new
        {
            farmId,
            resources = new { cru, mru = mruGiB * GiB, sru = sruGiB * GiB, hru = hruGiB * GiB },
            location = new { country, city },
            certification,
        }, HttpStatusCode.Created);
        var nodeId = json["nodeId"]!.GetValue<long>();
        Nodes[name] = nodeId;
        if (up)
        {
            await grid.HeartbeatAsync(nodeId, json["nodeKey"]!.GetValue<string>());
        }
    }

    /// <summary>
    /// Records a placement in the ledger with the event id and details of LEDGER-EVENTS, as the billing work will
    /// record it itself; the ledger keeps one entry per event id, so both recording it is harmless.
    /// </summary>
    private async Task RecordPlacedAsync(long reservationId, long nodeId, long farmId, int publicIps)
    {
        var details = JsonSerializer.Serialize(new { reservationId, twinId = Tenant, nodeId, farmId, epoch = 1, publicIps });
        await App.Services.GetRequiredService<IGrainFactory>().GetGrain<ILedgerGrain>(0).AppendAsync(new LedgerAppend(
            $"reservation:{reservationId}:placed:1", "reservation.placed", $"twin:{Tenant}", $"reservation:{reservationId}", null, [], details));
    }

    private static async Task<long> ReserveAsync(GridClient grid, string key, long nodeId, long cru, long mru, int ipv4)
    {
        var (status, body) = await grid.ReserveAsync(key, new { resources = new { cru, mru, ipv4 }, constraints = new { nodeId } });
        Assert.True(status == HttpStatusCode.Created, $"reserve on {nodeId}: {status} {body?.ToJsonString()}");
        return body!["reservationId"]!.GetValue<long>();
    }
}

[CollectionDefinition(Name)]
public sealed class ProxyGridCollection : ICollectionFixture<ProxyGridFixture>
{
    public const string Name = "proxy grid";
}
