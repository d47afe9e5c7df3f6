using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Grid.Testing;

namespace Grid.Host.Tests;

/// <summary>
/// A grid of its own for the grid-proxy tests, known node by node, so every filter has an exact expected answer:
/// farmer twin with farm <c>alpha-farm</c> (Gold, two public IPs) and <c>beta-farm</c> (no IPs); nodes n1…n5;
/// a tenant holding one reservation with an IPv4 on n1 and one on n3. n4 never heartbeats, so it is down.
/// Heartbeat timeouts are long so no node goes down while the tests run. The IP reservation runs one workload.
/// The same grid is built in memory mode (<see cref="MemoryProxyGrid"/>) and on PostgreSQL (<see cref="PostgresProxyGrid"/>),
/// so every read-model assertion holds for both read models.
/// </summary>
public abstract class ProxyGridFixture : IAsyncLifetime
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
            [
            .. await StorageSettingsAsync(),
            "--Grid:Health:HeartbeatTimeout=00:30:00",
            "--Grid:Health:HeartbeatInterval=00:10:00",
            "--Grid:Proxy:FarmRefreshInterval=00:00:00.100",
            "--Grid:Proxy:NodeIndexInterval=00:00:00.050",
            // Hundreds of anonymous reads from one address: the per-IP limit is the limits tests' subject, not these.
            "--Grid:Limits:RateLimiting=false",
            ]);
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
        await AddNodeAsync(grid, farmerKey, "n5", Alpha, 2, 4, 50, 500, "Egypt", "Alexandria", "diy", up: true, gateway: true);

        IpReservation = await ReserveAsync(grid, tenantKey, Nodes["n1"], cru: 1, mru: 1 * GiB, ipv4: 1);
        PlainReservation = await ReserveAsync(grid, tenantKey, Nodes["n3"], cru: 2, mru: 8 * GiB, ipv4: 0);
        await grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{IpReservation}/workloads", tenantKey,
            new { name = "web", type = "process", process = new { command = "/bin/true" } }, HttpStatusCode.Created);

        // The read model follows the ledger on its own schedule: wait until it shows the held address.
        await Poll.UntilAsync(async () =>
            (await App.Client.GetStringAsync($"/public_ips?free=false")).Contains($"\"contract_id\":{IpReservation}", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the farm directory to show the reserved address");
        // And the nodes' join (each silo's farm directory, a copy of the read model's farms) to show it too: alpha's
        // three nodes with one free address. ("No node with two free" would also hold before the directory knows
        // any farm, and the farm-name filters then found nothing in a fresh clone.)
        await Poll.UntilAsync(async () => (await ListAsync("/nodes?free_ips=1&size=100")).Count == 3,
            TimeSpan.FromSeconds(30), "the nodes' farm join to show the farms and the reserved address");
    }

    public virtual async Task DisposeAsync() => await App.DisposeAsync();

    /// <summary>The read model the storage mode answers from.</summary>
    public abstract Type ReadStore { get; }

    /// <summary>The host settings that choose the storage (and so the read model).</summary>
    protected abstract Task<string[]> StorageSettingsAsync();

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
        string country, string city, string certification, bool up, bool gateway = false)
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
        if (up && gateway)
        {
            // A gateway node (the /stats gateways count): its heartbeat reports the feature and its gateway address.
            await grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", json["nodeKey"]!.GetValue<string>(),
                new { uptime = 10, workloads = Array.Empty<object>(), features = new[] { "gateway" }, gatewayAddress = "127.0.0.1:8080" },
                HttpStatusCode.OK);
        }
        else if (up)
        {
            await grid.HeartbeatAsync(nodeId, json["nodeKey"]!.GetValue<string>());
        }
    }

    private static async Task<long> ReserveAsync(GridClient grid, string key, long nodeId, long cru, long mru, int ipv4)
    {
        var (status, body) = await grid.ReserveAsync(key, new { resources = new { cru, mru, ipv4 }, constraints = new { nodeId } });
        Assert.True(status == HttpStatusCode.Created, $"reserve on {nodeId}: {status} {body?.ToJsonString()}");
        return body!["reservationId"]!.GetValue<long>();
    }
}

/// <summary>The known grid in memory mode: the read model is this silo's fold of the ledger.</summary>
public sealed class MemoryProxyGrid : ProxyGridFixture
{
    public override Type ReadStore => typeof(Grid.Proxy.MemoryProxyReadStore);

    protected override Task<string[]> StorageSettingsAsync() => Task.FromResult<string[]>([]);
}

/// <summary>The known grid on a throwaway PostgreSQL: the read model is the projector's tables.</summary>
public sealed class PostgresProxyGrid : ProxyGridFixture
{
    private PostgresServer? _postgres;

    public override Type ReadStore => typeof(Grid.Proxy.PostgresProxyReadStore);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }

    protected override async Task<string[]> StorageSettingsAsync()
    {
        _postgres = await PostgresServer.StartNewAsync();
        return ["--Grid:Storage=postgres", $"--ConnectionStrings:Grid={await _postgres.CreateDatabaseAsync("proxy_grid")}"];
    }
}

[CollectionDefinition(Name)]
public sealed class ProxyGridCollection : ICollectionFixture<MemoryProxyGrid>
{
    public const string Name = "proxy grid";
}

[CollectionDefinition(Name)]
public sealed class PostgresProxyGridCollection : ICollectionFixture<PostgresProxyGrid>
{
    public const string Name = "proxy grid on postgres";
}
