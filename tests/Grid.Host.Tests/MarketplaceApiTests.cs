using System.Net;
using System.Text.Json.Nodes;
using Grid.Testing;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>GPUs, capacity close to the tenant and quarantine through the HTTP API (and the grid proxy's reads).</summary>
[Collection(GridAppCollection.Name)]
public sealed class MarketplaceApiTests(GridAppFixture fixture)
{
    private static readonly object[] TwoA100 =
    [
        new { id = "0000:01:00.0", vendor = "NVIDIA Corporation", device = "GA100 [A100 PCIe 40GB]", memory = 40960 },
        new { id = "0000:02:00.0", vendor = "NVIDIA Corporation", device = "AD102 [GeForce RTX 4090]", memory = 24564 },
    ];

    private readonly GridClient _grid = fixture.Client;
    private readonly Dictionary<long, string> _keys = [];

    [Fact]
    public async Task ANodeRegisteredWithGpusAndCoordinatesShowsThemAndBadOnesAreNamed()
    {
        var (_, farmer) = await _grid.CreateTwinAsync("farmer");
        var farm = await _grid.CreateFarmAsync(farmer);
        var nodeId = await RegisterAsync(farmer, farm, 51.05, 3.72, TwoA100);

        var node = await _grid.GetAsync($"/api/v1/nodes/{nodeId}", farmer);
        Assert.Equal(2, node["total"]!["gpu"]!.GetValue<int>());
        Assert.Equal(["0000:01:00.0", "0000:02:00.0"], node["gpus"]!.AsArray().Select(g => g!["id"]!.GetValue<string>()));
        Assert.Equal(40960, node["gpus"]![0]!["memory"]!.GetValue<long>());
        Assert.Equal((51.05, 3.72), (node["location"]!["latitude"]!.GetValue<double>(), node["location"]!["longitude"]!.GetValue<double>()));
        Assert.False(node["quarantined"]!.GetValue<bool>());

        var (badLat, latProblem) = await _grid.SendAsync(HttpMethod.Post, "/api/v1/nodes", farmer, NodeBody(farm, 91, 3.72, []));
        var (badGpus, gpuProblem) = await _grid.SendAsync(HttpMethod.Post, "/api/v1/nodes", farmer,
            NodeBody(farm, 51, 3, [new { id = "0000:01:00.0", vendor = "NVIDIA", device = "A100" }, new { id = "0000:01:00.0", vendor = "NVIDIA", device = "A100" }]));
        var (badNear, nearProblem) = await _grid.ReserveAsync(farmer, new
        {
            resources = new { cru = 1, mru = GiB },
            constraints = new { near = new { lat = 51.05, lon = 3.72, maxKm = -5 } },
        });
        var (badGpu, gpuCountProblem) = await _grid.ReserveAsync(farmer, new { resources = new { cru = 1, mru = GiB, gpu = 99 } });

        Assert.Equal((HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.BadRequest), (badLat, badGpus, badNear, badGpu));
        Assert.NotNull(latProblem!["errors"]!["location.latitude"]);
        Assert.NotNull(gpuProblem!["errors"]!["gpus[1].id"]);
        Assert.NotNull(nearProblem!["errors"]!["constraints.near.maxKm"]);
        Assert.NotNull(gpuCountProblem!["errors"]!["resources.gpu"]);
    }

    [Fact]
    public async Task AGpuIsHeldByOneReservationAtATimeAndReachesTheNodeWithItsWorkloads()
    {
        var (_, farmer) = await _grid.CreateTwinAsync("farmer");
        var farm = await _grid.CreateFarmAsync(farmer);
        var nodeId = await UpAsync(farmer, farm, 51.05, 3.72, gpus: [TwoA100[0]]);
        var nodeKey = _keys[nodeId];
        var (_, tenant) = await _grid.CreateTwinAsync();
        object Body() => new { resources = new { cru = 1, mru = GiB, gpu = 1 }, constraints = new { farmIds = new[] { farm } } };

        var (firstStatus, first) = await _grid.ReserveAsync(tenant, Body());
        var (secondStatus, second) = await _grid.ReserveAsync(tenant, Body());

        Assert.Equal(HttpStatusCode.Created, firstStatus);
        Assert.Equal(HttpStatusCode.Conflict, secondStatus);
        Assert.Contains("insufficient gpu", second!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        var id = first!["reservationId"]!.GetValue<long>();
        var gpu = Assert.Single((await _grid.GetAsync($"/api/v1/nodes/{nodeId}", farmer))["gpus"]!.AsArray())!;
        Assert.Equal(id, gpu["reservationId"]!.GetValue<long>());

        // The workload's assignment carries the GPU's id (the agent's GRID_GPU_IDS).
        await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{id}/workloads", tenant,
            new { name = "train", type = "process", process = new { command = "/bin/true" } }, HttpStatusCode.Created);
        var assignment = Assert.Single((await _grid.HeartbeatAsync(nodeId, nodeKey))["desired"]!.AsArray())!;
        Assert.Equal(["0000:01:00.0"], assignment["gpuIds"]!.AsArray().Select(g => g!.GetValue<string>()));

        // Released with the reservation: the GPU is free for the next one.
        Assert.Equal(HttpStatusCode.NoContent, (await _grid.SendAsync(HttpMethod.Delete, $"/api/v1/reservations/{id}", tenant, null)).Status);
        var (thirdStatus, _) = await _grid.ReserveAsync(tenant, Body());
        Assert.Equal(HttpStatusCode.Created, thirdStatus);

        // Models: no second A100 and no H100 here; the 409 says which filter.
        var (h100, h100Problem) = await _grid.ReserveAsync(tenant, new
        {
            resources = new { cru = 1, mru = GiB },
            constraints = new { farmIds = new[] { farm }, gpuModels = new[] { "H100" } },
        });
        Assert.Equal(HttpStatusCode.Conflict, h100);
        Assert.Contains("insufficient gpu", h100Problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NearPlacesOnTheNearestNodeThatFitsQuotesTheDistanceAndA409NamesIt()
    {
        var (_, farmer) = await _grid.CreateTwinAsync("farmer");
        var farm = await _grid.CreateFarmAsync(farmer);
        var ghent = await UpAsync(farmer, farm, 51.05, 3.72, cru: 2);
        var brussels = await UpAsync(farmer, farm, 50.85, 4.35, cru: 2);
        var paris = await UpAsync(farmer, farm, 48.86, 2.35, cru: 8);
        var (_, tenant) = await _grid.CreateTwinAsync();
        object Near(double lat, double lon, double maxKm, long cru = 2) =>
            new { resources = new { cru, mru = GiB }, constraints = new { farmIds = new[] { farm }, near = new { lat, lon, maxKm } } };

        var quote = await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/quotes", tenant, Near(50.9, 4.3, 500), HttpStatusCode.OK);
        Assert.Equal(brussels, quote["nodeId"]!.GetValue<long>());
        Assert.InRange(quote["distanceKm"]!.GetValue<double>(), 5, 8);

        // Near Brussels: Brussels first; once it is full, Ghent (49 km) before Paris (264 km), though Paris is emptier.
        var placed = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            var (status, body) = await _grid.ReserveAsync(tenant, Near(50.9, 4.3, 500));
            Assert.Equal(HttpStatusCode.Created, status);
            placed.Add(body!["nodeId"]!.GetValue<long>());
        }

        Assert.Equal([brussels, ghent, paris], placed);

        // Nothing within 100 km of Brussels has room now; the 409 says how far the nearest fitting node is.
        var (full, problem) = await _grid.ReserveAsync(tenant, Near(50.9, 4.3, 100));
        Assert.Equal(HttpStatusCode.Conflict, full);
        var detail = problem!["detail"]!.GetValue<string>();
        Assert.StartsWith("no node within 100 km fits; nearest fitting node is 26", detail, StringComparison.Ordinal);
        Assert.InRange(problem["nearestFittingKm"]!.GetValue<double>(), 250, 280);

        var (far, farProblem) = await _grid.SendAsync(HttpMethod.Post, "/api/v1/quotes", tenant, Near(40.71, -74.0, 500, cru: 1));
        Assert.Equal(HttpStatusCode.Conflict, far);
        Assert.Matches("^no node within 500 km fits; nearest fitting node is 5[0-9]{3} km away", farProblem!["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task AMoveOfANearReservationStaysWithinItsDistance()
    {
        var (_, farmer) = await _grid.CreateTwinAsync("farmer");
        var farm = await _grid.CreateFarmAsync(farmer);
        var ghent = await UpAsync(farmer, farm, 51.05, 3.72, cru: 4);
        var paris = await UpAsync(farmer, farm, 48.86, 2.35, cru: 8);
        var brussels = await UpAsync(farmer, farm, 50.85, 4.35, cru: 4);
        var (_, tenant) = await _grid.CreateTwinAsync();
        var (status, body) = await _grid.ReserveAsync(tenant, new
        {
            resources = new { cru = 1, mru = GiB },
            constraints = new { farmIds = new[] { farm }, near = new { lat = 51.05, lon = 3.72, maxKm = 100 } },
        });
        Assert.Equal(HttpStatusCode.Created, status);
        var id = body!["reservationId"]!.GetValue<long>();
        Assert.Equal(ghent, body["nodeId"]!.GetValue<long>());

        await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{ghent}/drain", farmer, new { maxParallel = 1 }, HttpStatusCode.OK);

        await Poll.UntilAsync(async () => (await _grid.GetAsync($"/api/v1/reservations/{id}", tenant))["nodeId"]?.GetValue<long>() == brussels,
            TimeSpan.FromSeconds(30), "the reservation moved to Brussels, within 100 km");
        Assert.Empty((await _grid.GetAsync($"/api/v1/nodes/{paris}", farmer))["allocations"]!.AsArray());
    }

    [Fact]
    public async Task TheProxyFiltersNodesByGpuAndListsThem()
    {
        var (_, farmer) = await _grid.CreateTwinAsync("farmer");
        var farm = await _grid.CreateFarmAsync(farmer);
        var gpuNode = await UpAsync(farmer, farm, 51.05, 3.72, gpus: TwoA100);
        var plain = await UpAsync(farmer, farm, 51.05, 3.72);
        var (_, tenant) = await _grid.CreateTwinAsync();

        async Task<string> Nodes(string filter)
        {
            var (_, json) = await _grid.SendAsync(HttpMethod.Get, $"/nodes?farm_ids={farm}&{filter}", null, null);
            return string.Join(' ', json!.AsArray().Select(n => n!["nodeId"]!.GetValue<long>() == gpuNode ? "gpu" : "plain").Order());
        }

        await Poll.UntilAsync(async () => await Nodes("") == "gpu plain", TimeSpan.FromSeconds(20), "the proxy lists both nodes");
        Assert.Equal("gpu", await Nodes("has_gpu=true"));
        Assert.Equal("plain", await Nodes("has_gpu=false"));
        Assert.Equal("gpu", await Nodes("gpu_vendor_name=nvidia"));
        Assert.Equal("gpu", await Nodes("gpu_device_name=rtx 4090"));
        Assert.Equal("", await Nodes("gpu_device_name=H100"));
        Assert.Equal("gpu", await Nodes("num_gpu=2"));
        Assert.Equal("", await Nodes("num_gpu=3"));
        Assert.Equal("gpu", await Nodes("gpu_available=true"));
        Assert.Equal("", await Nodes("gpu_available=false"));
        var (_, rows) = await _grid.SendAsync(HttpMethod.Get, $"/nodes?node_id={gpuNode}", null, null);
        var row = Assert.Single(rows!.AsArray())!;
        Assert.Equal(2, row["num_gpu"]!.GetValue<int>());
        Assert.Equal("0000:01:00.0", row["gpus"]![0]!["id"]!.GetValue<string>());

        // Both GPUs held: none available.
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await _grid.ReserveAsync(tenant,
                new { resources = new { cru = 1, mru = GiB, gpu = 1 }, constraints = new { farmIds = new[] { farm } } })).Status);
        }

        await Poll.UntilAsync(async () => await Nodes("gpu_available=false") == "gpu", TimeSpan.FromSeconds(20), "the proxy sees both GPUs held");
        Assert.Equal("", await Nodes("gpu_available=true"));
    }

    [Fact]
    public async Task ANodeWhoseWorkloadsKeepFailingIsQuarantinedUntilItsFarmerClearsIt()
    {
        var (_, farmer) = await _grid.CreateTwinAsync("farmer");
        var farm = await _grid.CreateFarmAsync(farmer);
        var nodeId = await UpAsync(farmer, farm, 51.05, 3.72);
        var nodeKey = _keys[nodeId];
        var (_, tenant) = await _grid.CreateTwinAsync();
        var (_, otherFarmer) = await _grid.CreateTwinAsync("farmer");
        object Pinned() => new { resources = new { cru = 1, mru = GiB }, constraints = new { nodeId } };
        var reservation = (await _grid.ReserveAsync(tenant, new { resources = new { cru = 6, mru = 6 * GiB }, constraints = new { nodeId } })).Body!;
        var id = reservation["reservationId"]!.GetValue<long>();
        var workloads = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            workloads.Add((await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{id}/workloads", tenant,
                new { name = $"w{i}", type = "process", resources = new { cru = 1, mru = GiB }, process = new { command = "/bin/true" } },
                HttpStatusCode.Created))["workloadId"]!.GetValue<long>());
        }

        // The tenant's own failures (its program's exit code, its image) count nothing against the node.
        await _grid.HeartbeatAsync(nodeId, nodeKey, workloads.Select((w, i) =>
            new { workloadId = w, epoch = 1, state = "failed", reason = i % 2 == 0 ? "exit-code" : "image-pull-failed", message = "tenant" }).ToArray());
        var afterTenant = await _grid.GetAsync($"/api/v1/nodes/{nodeId}", farmer);
        Assert.Equal((false, 0), (afterTenant["quarantined"]!.GetValue<bool>(), afterTenant["recentFailures"]!.GetValue<int>()));

        // Four of the node's own failures rank it lower; the fifth (Grid:Health:QuarantineFailures) quarantines it.
        await _grid.HeartbeatAsync(nodeId, nodeKey, workloads.Take(4).Select(w =>
            new { workloadId = w, epoch = 1, state = "failed", reason = "start-failed", message = "runc: cannot start" }).ToArray());
        var ranked = await _grid.GetAsync($"/api/v1/nodes/{nodeId}", farmer);
        Assert.Equal((false, 4), (ranked["quarantined"]!.GetValue<bool>(), ranked["recentFailures"]!.GetValue<int>()));
        var before = (await _grid.GetAsync("/api/v1/grid/events?limit=1", null!))["last"]!.GetValue<long>();
        await _grid.HeartbeatAsync(nodeId, nodeKey, new[] { new { workloadId = workloads[4], epoch = 1, state = "failed", reason = "no-space", message = "disk full" } });

        Assert.True((await _grid.GetAsync($"/api/v1/nodes/{nodeId}", farmer))["quarantined"]!.GetValue<bool>());
        var (refused, problem) = await _grid.ReserveAsync(tenant, Pinned());
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Contains("quarantined", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("active", (await _grid.GetAsync($"/api/v1/reservations/{id}", tenant))["state"]!.GetValue<string>());   // existing work stays
        await Poll.UntilAsync(async () => (await _grid.SendAsync(HttpMethod.Get, $"/nodes?node_id={nodeId}", null, null)).Body!.AsArray()
            .SingleOrDefault()?["quarantined"]?.GetValue<bool>() == true, TimeSpan.FromSeconds(20), "the proxy row shows the quarantine");
        await Poll.UntilAsync(async () => (await _grid.GetAsync($"/api/v1/grid/events?after={before}&limit=200", null!))["events"]!.AsArray()
            .Any(e => e!["kind"]!.GetValue<string>() == "node-quarantined" && e["nodeId"]!.GetValue<long>() == nodeId),
            TimeSpan.FromSeconds(20), "the grid's events tell the quarantine");

        // Another farmer cannot clear it (the node looks missing to them); its farmer can.
        var (other, _) = await _grid.SendAsync(HttpMethod.Delete, $"/api/v1/nodes/{nodeId}/quarantine", otherFarmer, null);
        Assert.Equal(HttpStatusCode.NotFound, other);
        Assert.True((await _grid.GetAsync($"/api/v1/nodes/{nodeId}", farmer))["quarantined"]!.GetValue<bool>());
        var cleared = await _grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/nodes/{nodeId}/quarantine", farmer, null, HttpStatusCode.OK);
        Assert.Equal((false, 0), (cleared["quarantined"]!.GetValue<bool>(), cleared["recentFailures"]!.GetValue<int>()));
        Assert.Equal(HttpStatusCode.Created, (await _grid.ReserveAsync(tenant, Pinned())).Status);
    }

    [Fact]
    public async Task AWorkloadFailingTheSameWayOnAnotherNodeDoesNotCountAgainstThatNode()
    {
        var (_, farmer) = await _grid.CreateTwinAsync("farmer");
        var farm = await _grid.CreateFarmAsync(farmer);
        var first = await UpAsync(farmer, farm, 51.05, 3.72);
        var (_, tenant) = await _grid.CreateTwinAsync();
        var reservation = (await _grid.ReserveAsync(tenant, new { resources = new { cru = 2, mru = 2 * GiB }, constraints = new { farmIds = new[] { farm } } })).Body!;
        var id = reservation["reservationId"]!.GetValue<long>();
        Assert.Equal(first, reservation["nodeId"]!.GetValue<long>());
        async Task<long> WorkloadAsync(string name) => (await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{id}/workloads", tenant,
            new { name, type = "process", resources = new { cru = 1, mru = GiB }, process = new { command = "/bin/true" } }, HttpStatusCode.Created))["workloadId"]!.GetValue<long>();
        var broken = await WorkloadAsync("broken");
        var other = await WorkloadAsync("other");
        async Task<int> FailuresAsync(long node) => (await _grid.GetAsync($"/api/v1/nodes/{node}", farmer))["recentFailures"]!.GetValue<int>();

        // The first node to see a failure cannot tell whose it is: it counts.
        await _grid.HeartbeatAsync(first, _keys[first], new[] { new { workloadId = broken, epoch = 1, state = "failed", reason = "start-failed", message = "cannot start" } });
        Assert.Equal(1, await FailuresAsync(first));

        // The reservation moves to a second node (a drain), where the same workload fails the same way.
        var second = await UpAsync(farmer, farm, 51.05, 3.72);
        await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{first}/drain", farmer, new { maxParallel = 1 }, HttpStatusCode.OK);
        await Poll.UntilAsync(async () => (await _grid.GetAsync($"/api/v1/reservations/{id}", tenant))["nodeId"]?.GetValue<long>() == second,
            TimeSpan.FromSeconds(30), "the reservation moved to the second node");
        await Poll.UntilAsync(async () => (await _grid.GetAsync($"/api/v1/workloads/{other}", tenant))["nodeId"]?.GetValue<long>() == second,
            TimeSpan.FromSeconds(30), "the workloads follow their reservation");
        var epoch = (await _grid.GetAsync($"/api/v1/workloads/{broken}", tenant))["epoch"]!.GetValue<long>();
        await Poll.UntilAsync(async () =>
        {
            await _grid.HeartbeatAsync(second, _keys[second], new[]
            {
                new { workloadId = broken, epoch, state = "failed", reason = "start-failed", message = "cannot start" },
                new { workloadId = other, epoch, state = "failed", reason = "start-failed", message = "cannot start" },
            });
            return (await _grid.GetAsync($"/api/v1/workloads/{other}", tenant))["state"]!.GetValue<string>() == "failed";
        }, TimeSpan.FromSeconds(30), "the second node's reports reached the workloads");

        // Its spec fails on every node: not the second node's fault. The other workload failed only here: it counts.
        Assert.Equal(1, await FailuresAsync(second));
        await _grid.HeartbeatAsync(second, _keys[second], new[] { new { workloadId = broken, epoch, state = "failed", reason = "start-failed", message = "again" } });
        Assert.Equal(1, await FailuresAsync(second));
    }

    private static object NodeBody(long farm, double latitude, double longitude, object[] gpus, long cru = 8) => new
    {
        farmId = farm,
        resources = new { cru, mru = 16 * GiB, sru = 100 * GiB, hru = 0 },
        location = new { country = "Belgium", city = "Ghent", latitude, longitude },
        gpus,
    };

    private async Task<long> RegisterAsync(string farmer, long farm, double latitude, double longitude, object[] gpus, long cru = 8)
    {
        var json = await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/nodes", farmer, NodeBody(farm, latitude, longitude, gpus, cru), HttpStatusCode.Created);
        _keys[json["nodeId"]!.GetValue<long>()] = json["nodeKey"]!.GetValue<string>();
        return json["nodeId"]!.GetValue<long>();
    }

    private async Task<long> UpAsync(string farmer, long farm, double latitude, double longitude, long cru = 8, object[]? gpus = null)
    {
        var nodeId = await RegisterAsync(farmer, farm, latitude, longitude, gpus ?? [], cru);
        await _grid.HeartbeatAsync(nodeId, _keys[nodeId]);
        return nodeId;
    }

}
