using System.Net;
using System.Text.Json.Nodes;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

[Collection(GridAppCollection.Name)]
public sealed class ReservationApiTests(GridAppFixture fixture)
{
    private readonly GridClient _grid = fixture.Client;

    [Fact]
    public async Task ReservationIsPlacedOnAnUpNodeAndShowsInTheNodesLedger()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, _) = await _grid.UpNodeAsync(key, farm, cru: 8, mru: 16 * GiB);

        var (status, body) = await _grid.ReserveAsync(key, new { resources = new { cru = 2, mru = 4 * GiB }, constraints = new { farmIds = new[] { farm } } });

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(nodeId, body!["nodeId"]!.GetValue<long>());
        Assert.Equal("active", body["state"]!.GetValue<string>());
        Assert.Equal(1, body["epoch"]!.GetValue<long>());
        var node = await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key);
        Assert.Equal("up", node["status"]!.GetValue<string>());
        Assert.Equal(2, node["used"]!["cru"]!.GetValue<long>());
        Assert.Equal(12 * GiB, node["free"]!["mru"]!.GetValue<long>());
        Assert.Equal(body["reservationId"]!.GetValue<long>(), node["allocations"]![0]!["reservationId"]!.GetValue<long>());
    }

    [Fact]
    public async Task NodeIsDownUntilItHeartbeats()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, nodeKey) = await _grid.RegisterNodeAsync(key, farm);

        Assert.Equal("down", (await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key))["status"]!.GetValue<string>());
        var (status, body) = await _grid.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB }, constraints = new { farmIds = new[] { farm } } });
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("1 down", body!["detail"]!.GetValue<string>());

        await _grid.HeartbeatAsync(nodeId, nodeKey);
        Assert.Equal("up", (await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task NothingFitsAnswers409WithReasonsPerFilterAndStoresNothing()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var small = await _grid.UpNodeAsync(key, farm, mru: 2 * GiB);
        var other = await _grid.UpNodeAsync(key, farm, mru: 64 * GiB, country: "Egypt");
        await _grid.RegisterNodeAsync(key, farm, mru: 64 * GiB);

        var (status, body) = await _grid.ReserveAsync(key, new
        {
            resources = new { cru = 1, mru = 8 * GiB },
            constraints = new { farmIds = new[] { farm }, country = "Belgium" },
        });

        Assert.Equal(HttpStatusCode.Conflict, status);
        var detail = body!["detail"]!.GetValue<string>();
        Assert.StartsWith("0/", detail);
        Assert.Contains("1 insufficient mru", detail);
        Assert.Contains("1 down", detail);
        Assert.Equal(1, body["rejections"]!["insufficient mru"]!.GetValue<int>());
        var list = await _grid.GetAsync("/api/v1/reservations", key);
        Assert.Equal(0, list["total"]!.GetValue<int>());
        foreach (var nodeId in new[] { small.NodeId, other.NodeId })
        {
            Assert.Empty((await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key))["allocations"]!.AsArray());
        }
    }

    [Fact]
    public async Task CancelFreesCapacityAndPublicIps()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key, publicIps: new[] { new { ip = "185.69.166.2/24", gateway = "185.69.166.1" } });
        var (nodeId, _) = await _grid.UpNodeAsync(key, farm);
        var request = new { resources = new { cru = 8, mru = 16 * GiB, ipv4 = 1 }, constraints = new { farmIds = new[] { farm } } };

        var (status, first) = await _grid.ReserveAsync(key, request);
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("185.69.166.2/24", first!["publicIps"]![0]!["ip"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Conflict, (await _grid.ReserveAsync(key, request)).Status);

        var id = first["reservationId"]!.GetValue<long>();
        var (deleted, _) = await _grid.SendAsync(HttpMethod.Delete, $"/api/v1/reservations/{id}", key, null);
        Assert.Equal(HttpStatusCode.NoContent, deleted);
        Assert.Equal("cancelled", (await _grid.GetAsync($"/api/v1/reservations/{id}", key))["state"]!.GetValue<string>());
        Assert.Empty((await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key))["allocations"]!.AsArray());
        var (again, second) = await _grid.ReserveAsync(key, request);
        Assert.Equal(HttpStatusCode.Created, again);
        Assert.Equal("185.69.166.2/24", second!["publicIps"]![0]!["ip"]!.GetValue<string>());
    }

    [Fact]
    public async Task PublicIpsAreNeverGivenToTwoReservations()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var ips = Enumerable.Range(2, 3).Select(i => new { ip = $"10.1.0.{i}/24", gateway = "10.1.0.1" }).ToArray();
        var farm = await _grid.CreateFarmAsync(key, publicIps: ips);
        await _grid.UpNodeAsync(key, farm, cru: 64, mru: 64 * GiB);
        var request = new { resources = new { cru = 1, mru = GiB, ipv4 = 1 }, constraints = new { farmIds = new[] { farm } } };

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => _grid.ReserveAsync(key, request)));

        var given = results.Where(r => r.Status == HttpStatusCode.Created).Select(r => r.Body!["publicIps"]![0]!["ip"]!.GetValue<string>()).ToList();
        Assert.Equal(3, given.Count);
        Assert.Equal(3, given.Distinct().Count());
        var refused = results.Where(r => r.Status == HttpStatusCode.Conflict).ToList();
        Assert.Equal(3, refused.Count);
        Assert.All(refused, r => Assert.Contains("insufficient ipv4", r.Body!["detail"]!.GetValue<string>()));
    }

    [Fact]
    public async Task CpuMayBeOvercommittedUpToTheFarmRatioButMemoryNever()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key, cpuOvercommit: 2.0);
        await _grid.UpNodeAsync(key, farm, cru: 4, mru: 8 * GiB);
        object Request(long cru, long mru) => new { resources = new { cru, mru }, constraints = new { farmIds = new[] { farm } } };

        Assert.Equal(HttpStatusCode.Created, (await _grid.ReserveAsync(key, Request(6, 4 * GiB))).Status);
        Assert.Equal(HttpStatusCode.Created, (await _grid.ReserveAsync(key, Request(2, 4 * GiB))).Status);
        var (cpu, cpuBody) = await _grid.ReserveAsync(key, Request(1, 0));
        Assert.Equal(HttpStatusCode.Conflict, cpu);
        Assert.Contains("insufficient cru", cpuBody!["detail"]!.GetValue<string>());
        var (mem, memBody) = await _grid.ReserveAsync(key, Request(0, 1));
        Assert.Equal(HttpStatusCode.Conflict, mem);
        Assert.Contains("insufficient mru", memBody!["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task AntiAffinityKeepsAGroupOnDifferentNodes()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        await _grid.UpNodeAsync(key, farm);
        await _grid.UpNodeAsync(key, farm);
        var request = new { resources = new { cru = 1, mru = GiB }, constraints = new { farmIds = new[] { farm }, antiAffinityGroup = "db" } };

        var a = await _grid.ReserveAsync(key, request);
        var b = await _grid.ReserveAsync(key, request);
        var c = await _grid.ReserveAsync(key, request);

        Assert.NotEqual(a.Body!["nodeId"]!.GetValue<long>(), b.Body!["nodeId"]!.GetValue<long>());
        Assert.Equal(HttpStatusCode.Conflict, c.Status);
        Assert.Contains("2 anti-affinity", c.Body!["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("binpack", 1)]
    [InlineData("spread", 2)]
    public async Task StrategyDecidesBetweenFillingAndSpreading(string strategy, int expectedNodes)
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        await _grid.UpNodeAsync(key, farm);
        await _grid.UpNodeAsync(key, farm);
        var request = new { resources = new { cru = 1, mru = GiB }, constraints = new { farmIds = new[] { farm } }, strategy };

        var nodes = new HashSet<long>();
        for (var i = 0; i < 2; i++)
        {
            nodes.Add((await _grid.ReserveAsync(key, request)).Body!["nodeId"]!.GetValue<long>());
        }

        Assert.Equal(expectedNodes, nodes.Count);
    }

    [Fact]
    public async Task PinnedReservationLandsOnItsNodeOrNowhere()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        await _grid.UpNodeAsync(key, farm);
        var (pinned, _) = await _grid.UpNodeAsync(key, farm, mru: 2 * GiB);

        var fits = await _grid.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB }, constraints = new { nodeId = pinned } });
        var tooBig = await _grid.ReserveAsync(key, new { resources = new { cru = 1, mru = 4 * GiB }, constraints = new { nodeId = pinned } });

        Assert.Equal(pinned, fits.Body!["nodeId"]!.GetValue<long>());
        Assert.Equal(HttpStatusCode.Conflict, tooBig.Status);
        Assert.Contains("1 insufficient mru", tooBig.Body!["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task IdempotencyKeyReturnsTheFirstResultAndRejectsADifferentRequest()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, _) = await _grid.UpNodeAsync(key, farm);
        var request = new { resources = new { cru = 1, mru = GiB }, constraints = new { farmIds = new[] { farm } } };

        var first = await _grid.ReserveAsync(key, request, "order-7");
        var retry = await _grid.ReserveAsync(key, request, "order-7");
        var other = await _grid.ReserveAsync(key, new { resources = new { cru = 2, mru = GiB } }, "order-7");

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.Created, retry.Status);
        Assert.Equal(first.Body!["reservationId"]!.GetValue<long>(), retry.Body!["reservationId"]!.GetValue<long>());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.Status);
        Assert.Single((await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key))["allocations"]!.AsArray());
        Assert.Equal(1, (await _grid.GetAsync("/api/v1/reservations", key))["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task WorkloadsReachTheNodeAndNeverExceedTheirReservation()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, nodeKey) = await _grid.UpNodeAsync(key, farm);
        var reservation = (await _grid.ReserveAsync(key, new { resources = new { cru = 2, mru = 2 * GiB }, constraints = new { farmIds = new[] { farm } } })).Body!;
        var id = reservation["reservationId"]!.GetValue<long>();

        var workload = await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{id}/workloads", key, new
        {
            name = "web",
            type = "process",
            resources = new { cru = 1, mru = GiB },
            process = new { command = "/bin/sh", args = new[] { "-c", "sleep 100" }, env = new Dictionary<string, string> { ["A"] = "1" } },
        }, HttpStatusCode.Created);
        var (tooBig, problem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{id}/workloads", key,
            new { name = "db", type = "vm", resources = new { cru = 2, mru = GiB } });

        Assert.Equal(HttpStatusCode.Conflict, tooBig);
        Assert.Contains("cru 1", problem!["detail"]!.GetValue<string>());
        var workloadId = workload["workloadId"]!.GetValue<long>();
        var answer = await _grid.HeartbeatAsync(nodeId, nodeKey);
        var desired = answer["desired"]!.AsArray();
        var assignment = Assert.Single(desired)!;
        Assert.Equal(workloadId, assignment["workloadId"]!.GetValue<long>());
        Assert.Equal(1, assignment["epoch"]!.GetValue<long>());
        Assert.Equal("/bin/sh", assignment["spec"]!["process"]!["command"]!.GetValue<string>());
        Assert.Null(answer["desiredUnchanged"]);

        // An agent that holds this version is told so instead of being sent the list again.
        var version = answer["desiredVersion"]!.GetValue<long>();
        var held = await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey, new { uptime = 11, desiredVersion = version }, HttpStatusCode.OK);
        Assert.True(held["desiredUnchanged"]!.GetValue<bool>());
        Assert.Empty(held["desired"]!.AsArray());
        Assert.Equal(version, held["desiredVersion"]!.GetValue<long>());

        // Reports with a version are acknowledged once taken; then a heartbeat may carry only what changed since.
        var reported = await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey,
            new { uptime = 12, workloads = new[] { new { workloadId, epoch = 1, state = "running" } }, reportsVersion = 40 }, HttpStatusCode.OK);
        Assert.Equal(40, reported["reportsAcknowledged"]!.GetValue<long>());
        await Grid.Testing.Poll.UntilAsync(async () => (await _grid.GetAsync($"/api/v1/workloads/{workloadId}", key))["state"]!.GetValue<string>() == "running",
            TimeSpan.FromSeconds(10), "the workload is reported running");
        var unchanged = await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey,
            new { uptime = 13, reportsVersion = 40, reportsBase = 40 }, HttpStatusCode.OK);
        var ofAnother = await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey,
            new { uptime = 14, reportsVersion = 41, reportsBase = 39 }, HttpStatusCode.OK);
        var unversioned = await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey,
            new { uptime = 15, workloads = new[] { new { workloadId, epoch = 1, state = "running" } } }, HttpStatusCode.OK);
        Assert.Equal(40, unchanged["reportsAcknowledged"]!.GetValue<long>());
        Assert.Null(ofAnother["reportsAcknowledged"]);
        Assert.Null(unversioned["reportsAcknowledged"]);
        Assert.Equal("running", (await _grid.GetAsync($"/api/v1/workloads/{workloadId}", key))["state"]!.GetValue<string>());

        var (deleted, _) = await _grid.SendAsync(HttpMethod.Delete, $"/api/v1/workloads/{workloadId}", key, null);
        Assert.Equal(HttpStatusCode.NoContent, deleted);
        Assert.Empty((await _grid.HeartbeatAsync(nodeId, nodeKey))["desired"]!.AsArray());

        // A process deployed without resources is held to what is left of the reservation, never unlimited.
        var unsized = await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{id}/workloads", key, new
        {
            name = "unsized",
            type = "process",
            process = new { command = "/bin/sh", args = new[] { "-c", "sleep 100" } },
        }, HttpStatusCode.Created);
        var sized = Assert.Single((await _grid.HeartbeatAsync(nodeId, nodeKey))["desired"]!.AsArray())!;
        Assert.Equal(unsized["workloadId"]!.GetValue<long>(), sized["workloadId"]!.GetValue<long>());
        Assert.Equal(2, sized["spec"]!["resources"]!["cru"]!.GetValue<long>());
        Assert.Equal(2 * GiB, sized["spec"]!["resources"]!["mru"]!.GetValue<long>());
        var (noneLeft, _) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{id}/workloads", key,
            new { name = "second", type = "process", process = new { command = "/bin/true" } });
        Assert.Equal(HttpStatusCode.Conflict, noneLeft);
        Assert.Equal("deleted", (await _grid.GetAsync($"/api/v1/workloads/{workloadId}", key))["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task CancellingAReservationDeletesItsWorkloads()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, nodeKey) = await _grid.UpNodeAsync(key, farm);
        var id = (await _grid.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB }, constraints = new { farmIds = new[] { farm } } })).Body!["reservationId"]!.GetValue<long>();
        var workloadId = (await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{id}/workloads", key,
            new { name = "zdb1", type = "zdb" }, HttpStatusCode.Created))["workloadId"]!.GetValue<long>();

        await _grid.SendAsync(HttpMethod.Delete, $"/api/v1/reservations/{id}", key, null);

        Assert.Equal("deleted", (await _grid.GetAsync($"/api/v1/workloads/{workloadId}", key))["state"]!.GetValue<string>());
        Assert.Empty((await _grid.HeartbeatAsync(nodeId, nodeKey))["desired"]!.AsArray());
        var events = await _grid.GetAsync($"/api/v1/reservations/{id}/events", key);
        Assert.Equal(["placed", "workload-added", "cancelled"], events.AsArray().Select(e => e!["kind"]!.GetValue<string>()).ToArray());
    }
}
