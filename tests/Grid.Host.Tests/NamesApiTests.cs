using System.Net;
using System.Text.Json.Nodes;
using Grid.Testing;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>Gateway names as a tenant claims them and as gateway nodes receive their routes.</summary>
[Collection(GridAppCollection.Name)]
public sealed class NamesApiTests(GridAppFixture fixture)
{
    private const string Image = "127.0.0.1:5000/shop/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly GridClient _grid = fixture.Client;

    public static TheoryData<string, string> BadNames => new()
    {
        { """{"name":"ab","backends":[{"url":"http://127.0.0.1:9"}]}""", "name" },
        { """{"name":"Shop","backends":[{"url":"http://127.0.0.1:9"}]}""", "name" },
        { """{"name":"-shop","backends":[{"url":"http://127.0.0.1:9"}]}""", "name" },
        { """{"name":"shop-","backends":[{"url":"http://127.0.0.1:9"}]}""", "name" },
        { """{"name":"sh.op","backends":[{"url":"http://127.0.0.1:9"}]}""", "name" },
        { """{"name":"shop\n","backends":[{"url":"http://127.0.0.1:9"}]}""", "name" },
        { """{"name":"NAME","backends":[{"url":"http://127.0.0.1:9"}],"healthCheck":{"interval":"2s\n"}}""", "healthCheck.interval" },
        { "{\"name\":\"" + new string('a', 64) + "\",\"backends\":[{\"url\":\"http://127.0.0.1:9\"}]}", "name" },
        { """{"name":"NAME"}""", "backends" },
        { """{"name":"NAME","backends":[]}""", "backends" },
        { """{"name":"NAME","backends":[{"url":"ftp://127.0.0.1/"}]}""", "backends[0].url" },
        { """{"name":"NAME","backends":[{"url":"/relative"}]}""", "backends[0].url" },
        { """{"name":"NAME","backends":[{"url":"http://u:p@127.0.0.1/"}]}""", "backends[0].url" },
        { """{"name":"NAME","backends":[{"workloadId":1}]}""", "backends[0]" },
        { """{"name":"NAME","backends":[{"workloadId":1,"port":"http","url":"http://127.0.0.1:9"}]}""", "backends[0]" },
        { """{"name":"NAME","backends":[{"workloadId":0,"port":"http"}]}""", "backends[0].workloadId" },
        { """{"name":"NAME","backends":[{"workloadId":1,"port":"HTTP"}]}""", "backends[0].port" },
        { """{"name":"NAME","backends":[{"url":"http://127.0.0.1:9"},{"url":"http://127.0.0.1:9"}]}""", "backends[1]" },
        { """{"name":"NAME","backends":[{"url":"http://127.0.0.1:9"}],"healthCheck":{"path":"health"}}""", "healthCheck.path" },
        { """{"name":"NAME","backends":[{"url":"http://127.0.0.1:9"}],"healthCheck":{"interval":"2"}}""", "healthCheck.interval" },
        { """{"name":"NAME","backends":[{"url":"http://127.0.0.1:9"}],"healthCheck":{"interval":"100ms"}}""", "healthCheck.interval" },
        { """{"name":"NAME","backends":[{"url":"http://127.0.0.1:9"}],"healthCheck":{"interval":"10m"}}""", "healthCheck.interval" },
    };

    [Theory]
    [MemberData(nameof(BadNames))]
    public async Task BadNameRequestIs400NamingTheFieldAndClaimsNothing(string body, string field)
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var name = NewName();

        var (status, problem) = await _grid.SendAsync(HttpMethod.Post, "/api/v1/names", key, body.Replace("NAME", name, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem!["errors"]![field] is not null, problem.ToJsonString());
        Assert.Empty((await _grid.GetAsync("/api/v1/names", key)).AsArray());
        Assert.Equal(HttpStatusCode.NotFound, (await _grid.SendAsync(HttpMethod.Get, $"/api/v1/names/{name}", key, null)).Status);
    }

    [Fact]
    public async Task ANameIsClaimedListedUpdatedReleasedAndClaimedAgainWithLedgerEntries()
    {
        var (ownerId, owner) = await _grid.CreateTwinAsync("owner");
        var (otherId, other) = await _grid.CreateTwinAsync("other");
        var name = NewName();

        var created = await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/names", owner,
            new { name, backends = new[] { new { url = "http://127.0.0.1:9/" } }, healthCheck = new { path = "/health", interval = "3s" } },
            HttpStatusCode.Created);
        var (taken, takenProblem) = await _grid.SendAsync(HttpMethod.Post, "/api/v1/names", other, new { name, backends = new[] { new { url = "http://127.0.0.1:8/" } } });
        var listed = await _grid.GetAsync("/api/v1/names", owner);
        var updated = await _grid.SendOkAsync(HttpMethod.Put, $"/api/v1/names/{name}", owner,
            new { backends = new[] { new { url = "https://127.0.0.1:10/" } } }, HttpStatusCode.OK);
        var (othersGet, _) = await _grid.SendAsync(HttpMethod.Get, $"/api/v1/names/{name}", other, null);
        var (othersPut, _) = await _grid.SendAsync(HttpMethod.Put, $"/api/v1/names/{name}", other, new { backends = new[] { new { url = "http://127.0.0.1:8/" } } });
        var (othersDelete, _) = await _grid.SendAsync(HttpMethod.Delete, $"/api/v1/names/{name}", other, null);
        var afterIntruder = await _grid.GetAsync($"/api/v1/names/{name}", owner);
        await _grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/names/{name}", owner, null, HttpStatusCode.NoContent);
        var (gone, _) = await _grid.SendAsync(HttpMethod.Get, $"/api/v1/names/{name}", owner, null);
        var reclaimed = await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/names", other,
            new { name, backends = new[] { new { url = "http://127.0.0.1:8/" } } }, HttpStatusCode.Created);

        Assert.Equal(name, created["name"]!.GetValue<string>());
        Assert.Equal($"http://{name}.gw.grid.local", created["url"]!.GetValue<string>());
        Assert.Equal("http://127.0.0.1:9/", created["backends"]![0]!["url"]!.GetValue<string>());
        Assert.Equal("/health", created["healthCheck"]!["path"]!.GetValue<string>());
        Assert.NotNull(created["createdAt"]);
        Assert.Equal(HttpStatusCode.Conflict, taken);
        Assert.Contains(name, takenProblem!["detail"]!.GetValue<string>());
        Assert.Equal(name, Assert.Single(listed.AsArray())!["name"]!.GetValue<string>());
        Assert.Equal("https://127.0.0.1:10/", updated["backends"]![0]!["url"]!.GetValue<string>());
        Assert.Equal("/", updated["healthCheck"]!["path"]!.GetValue<string>());
        Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound), (othersGet, othersPut, othersDelete));
        Assert.Equal(ownerId, afterIntruder["twinId"]!.GetValue<long>());
        Assert.Equal(HttpStatusCode.NotFound, gone);
        Assert.Equal(otherId, reclaimed["twinId"]!.GetValue<long>());
        Assert.Empty((await _grid.GetAsync("/api/v1/names", owner)).AsArray());

        var entries = new List<JsonNode>();
        await Poll.UntilAsync(async () => (entries = await LedgerEntriesAsync($"name:{name}")).Count == 3,
            Patience, "claim, release and claim again are three ledger entries");
        Assert.Equal(["name.claimed", "name.released", "name.claimed"], entries.Select(e => e["kind"]!.GetValue<string>()));
        Assert.Equal([$"twin:{ownerId}", $"twin:{ownerId}", $"twin:{otherId}"], entries.Select(e => e["actor"]!.GetValue<string>()));
    }

    [Fact]
    public async Task WorkloadBackendsMustBeTheCallersAndNameAPublishedPort()
    {
        var world = await GatewayWorld.CreateAsync(_grid);
        var (_, other) = await _grid.CreateTwinAsync("other");
        var name = NewName();

        var (notOwned, _) = await _grid.SendAsync(HttpMethod.Post, "/api/v1/names", other,
            new { name, backends = new[] { new { workloadId = world.WorkloadId, port = "http" } } });
        var (missing, _) = await _grid.SendAsync(HttpMethod.Post, "/api/v1/names", world.Key,
            new { name, backends = new[] { new { workloadId = long.MaxValue, port = "http" } } });
        var (noPort, portProblem) = await _grid.SendAsync(HttpMethod.Post, "/api/v1/names", world.Key,
            new { name, backends = new[] { new { workloadId = world.WorkloadId, port = "admin" } } });

        Assert.Equal(HttpStatusCode.NotFound, notOwned);
        Assert.Equal(HttpStatusCode.NotFound, missing);
        Assert.Equal(HttpStatusCode.Conflict, noPort);
        Assert.Contains("http", portProblem!["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await _grid.SendAsync(HttpMethod.Get, $"/api/v1/names/{name}", world.Key, null)).Status);
    }

    [Fact]
    public async Task DeployingAGatewayWorkloadIs400PointingAtNames()
    {
        var world = await GatewayWorld.CreateAsync(_grid);

        var (status, problem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{world.ReservationId}/workloads", world.Key,
            new { name = "gw", type = "gateway" });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("/api/v1/names", problem!["errors"]!["type"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task GatewayNodesGetTheRouteAndAreWokenWhenTheBackendMovesAndWhenTheNameIsReleased()
    {
        var world = await GatewayWorld.CreateAsync(_grid);
        var name = NewName();
        await world.ReportAsync(world.NodeId, world.NodeKey, 1, "running", "10.1.2.3", 23456);
        await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/names", world.Key,
            new { name, backends = new object[] { new { workloadId = world.WorkloadId, port = "http" }, new { url = "http://127.0.0.1:9" } } },
            HttpStatusCode.Created);

        JsonNode? first = null;
        await Poll.UntilAsync(async () => (first = Route(await world.GatewayBeatAsync(), name)) is { } r && r["destinations"]!.AsArray().Count == 2,
            Patience, "the gateway's heartbeat answer carries the name's route");
        var plain = await _grid.HeartbeatAsync(world.NodeId, world.NodeKey);

        Assert.Equal($"{name}.gw.grid.local", first!["host"]!.GetValue<string>());
        Assert.Equal(
            [($"w{world.WorkloadId}-http", "http://10.1.2.3:23456"), ("url-0", "http://127.0.0.1:9")],
            first["destinations"]!.AsArray().Select(d => (d!["id"]!.GetValue<string>(), d["address"]!.GetValue<string>())));
        Assert.Null(plain["routes"]);

        // The backend moves (a drain) and runs on the other node at epoch 2 with another endpoint: the gateway's
        // long-poll wakes and its next heartbeat carries the new address under the same destination id.
        await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{world.NodeId}/drain", world.Key, new { maxParallel = 1 }, HttpStatusCode.OK);
        long? epoch = null;
        await Poll.UntilAsync(async () => (epoch = (await _grid.HeartbeatAsync(world.SecondNodeId, world.SecondNodeKey))["desired"]!.AsArray()
                .FirstOrDefault(d => d!["workloadId"]!.GetValue<long>() == world.WorkloadId)?["epoch"]!.GetValue<long>()) is not null,
            Patience, "the workload is placed on the second node");
        var moving = await BackendAsync(world.Key, name, 0);
        var version = (await world.GatewayBeatAsync())["desiredVersion"]!.GetValue<long>();
        var watch = _grid.GetAsync($"/api/v1/nodes/{world.GatewayId}/desired?version={version}&waitMs=20000", world.GatewayKey);
        await world.ReportAsync(world.SecondNodeId, world.SecondNodeKey, epoch!.Value, "running", "10.4.5.6", 30001);
        var woken = await watch.WaitAsync(TimeSpan.FromSeconds(10));
        var moved = Route(await world.GatewayBeatAsync(), name)!;

        Assert.Equal(2, epoch);
        Assert.Equal("moving", moving["state"]!.GetValue<string>());
        Assert.NotEqual(version, woken["version"]!.GetValue<long>());
        Assert.Equal((world.WorkloadId, "http://10.4.5.6:30001"),
            moved["destinations"]!.AsArray().Where(d => d!["id"]!.GetValue<string>() == $"w{world.WorkloadId}-http")
                .Select(d => (world.WorkloadId, d!["address"]!.GetValue<string>())).Single());

        // A release: woken again, and the route is gone.
        version = (await world.GatewayBeatAsync())["desiredVersion"]!.GetValue<long>();
        watch = _grid.GetAsync($"/api/v1/nodes/{world.GatewayId}/desired?version={version}&waitMs=20000", world.GatewayKey);
        await _grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/names/{name}", world.Key, null, HttpStatusCode.NoContent);
        await watch.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Null(Route(await world.GatewayBeatAsync(), name));
    }

    [Fact]
    public async Task BackendStatesFollowTheWorkloadAndTheGatewaysHealthReports()
    {
        var world = await GatewayWorld.CreateAsync(_grid);
        var name = NewName();
        await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/names", world.Key,
            new { name, backends = new[] { new { workloadId = world.WorkloadId, port = "http" } } }, HttpStatusCode.Created);
        var destination = $"w{world.WorkloadId}-http";

        var deploying = await BackendAsync(world.Key, name, 0);
        await world.ReportAsync(world.NodeId, world.NodeKey, 1, "running", "10.1.2.3", 23456);
        var unprobed = await BackendAsync(world.Key, name, 0);
        await world.GatewayBeatAsync(new[] { new { name, destinationId = destination, healthy = false, reason = "connection refused" } });
        var unhealthy = await BackendAsync(world.Key, name, 0);
        await world.GatewayBeatAsync(new[] { new { name, destinationId = destination, healthy = true, reason = (string?)null } });
        var healthy = await BackendAsync(world.Key, name, 0);
        await world.ReportAsync(world.NodeId, world.NodeKey, 1, "failed", "10.1.2.3", 23456, reason: "oom-killed");
        var failed = await BackendAsync(world.Key, name, 0);
        var listed = Assert.Single((await _grid.GetAsync("/api/v1/names", world.Key)).AsArray())!;

        Assert.Equal("not-running", deploying["state"]!.GetValue<string>());
        Assert.Equal("unhealthy", unprobed["state"]!.GetValue<string>());
        Assert.Equal(("unhealthy", "connection refused"), (unhealthy["state"]!.GetValue<string>(), unhealthy["reason"]!.GetValue<string>()));
        Assert.Equal("healthy", healthy["state"]!.GetValue<string>());
        Assert.Null(healthy["reason"]);
        Assert.Equal("not-running", failed["state"]!.GetValue<string>());
        Assert.Contains("oom-killed", failed["reason"]!.GetValue<string>());
        Assert.Null(listed["backends"]![0]!["state"]);
    }

    [Fact]
    public async Task TrafficIsCountedOnceAcrossAResentSequence()
    {
        var world = await GatewayWorld.CreateAsync(_grid);
        var name = NewName();
        await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/names", world.Key,
            new { name, backends = new[] { new { url = "http://127.0.0.1:9" } } }, HttpStatusCode.Created);
        var before = (await world.GatewayBeatAsync())["trafficAcknowledged"]!.GetValue<long>();

        var first = await world.GatewayBeatAsync(traffic: new[] { new { name, bytesIn = 100, bytesOut = 2000 } }, trafficSequence: before + 1);
        var resent = await world.GatewayBeatAsync(traffic: new[] { new { name, bytesIn = 100, bytesOut = 2000 } }, trafficSequence: before + 1);
        var next = await world.GatewayBeatAsync(traffic: new[] { new { name, bytesIn = 1, bytesOut = 2 } }, trafficSequence: before + 2);
        var (bad, problem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/nodes/{world.GatewayId}/heartbeat", world.GatewayKey,
            new { uptime = 1, traffic = new[] { new { name, bytesIn = -1, bytesOut = 0 } }, trafficSequence = before + 3 });
        var counted = await _grid.GetAsync($"/api/v1/names/{name}", world.Key);

        Assert.Equal(0, before);
        Assert.Equal([1L, 1L, 2L], new[] { first, resent, next }.Select(a => a["trafficAcknowledged"]!.GetValue<long>()));
        Assert.Equal((101L, 2002L), (counted["bytesIn"]!.GetValue<long>(), counted["bytesOut"]!.GetValue<long>()));
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.NotNull(problem!["errors"]!["traffic[0]"]);
    }

    private static string NewName() => "n" + Guid.NewGuid().ToString("N")[..12];

    private static JsonNode? Route(JsonNode answer, string name) =>
        answer["routes"]?["routes"]!.AsArray().FirstOrDefault(r => r!["name"]!.GetValue<string>() == name);

    private async Task<JsonNode> BackendAsync(string key, string name, int index) =>
        (await _grid.GetAsync($"/api/v1/names/{name}", key))["backends"]![index]!;

    private async Task<List<JsonNode>> LedgerEntriesAsync(string subject)
    {
        var found = new List<JsonNode>();
        for (long from = 1; ;)
        {
            var page = await _grid.SendOkAsync(HttpMethod.Get, $"/api/v1/ledger?from={from}&limit=1000", null, null, HttpStatusCode.OK);
            var entries = page["entries"]!.AsArray();
            found.AddRange(entries.Where(e => e!["subject"]!.GetValue<string>() == subject).Select(e => e!));
            if (entries.Count == 0)
            {
                return found;
            }

            from = page["next"]!.GetValue<long>();
        }
    }
}
