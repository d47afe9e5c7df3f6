using System.Net;
using System.Text.Json.Nodes;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>Container and volume workloads as a tenant deploys them, and node features as agents report them.</summary>
[Collection(GridAppCollection.Name)]
public sealed class ContainerWorkloadApiTests(GridAppFixture fixture)
{
    private const string Hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private const string Image = "127.0.0.1:5000/shop/web@sha256:" + Hex;

    private readonly GridClient _grid = fixture.Client;

    public static TheoryData<string, string> BadContainers => new()
    {
        { """{"image":"127.0.0.1:5000/shop/web"}""", "container.image" },
        { """{"image":"127.0.0.1:5000/shop/web:latest"}""", "container.image" },
        { """{"image":"127.0.0.1:5000/shop/web@sha256:0123"}""", "container.image" },
        { """{"image":"127.0.0.1:5000/shop/web@sha256:""" + "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef" + "\"}", "container.image" },
        { """{"image":"http://127.0.0.1:8080/web.tar"}""", "container.image" },
        { """{"image":"ftp://127.0.0.1/web.tar@sha256:""" + Hex + "\"}", "container.image" },
        { """{"image":"IMAGE","workdir":"relative"}""", "container.workdir" },
        { """{"image":"IMAGE","ports":[{"name":"Http","port":8080}]}""", "container.ports[0].name" },
        { """{"image":"IMAGE","ports":[{"name":"http","port":0}]}""", "container.ports[0].port" },
        { """{"image":"IMAGE","ports":[{"name":"http","port":70000}]}""", "container.ports[0].port" },
        { """{"image":"IMAGE","ports":[{"name":"http","port":80},{"name":"http","port":81}]}""", "container.ports[1]" },
        { """{"image":"IMAGE","mounts":[{"volume":"data","path":"data"}]}""", "container.mounts[0].path" },
        { """{"image":"IMAGE","mounts":[{"volume":"data","path":"/d"},{"volume":"data","path":"/d"}]}""", "container.mounts[1].path" },
        { """{"image":"IMAGE","restart":"sometimes"}""", "container.restart" },
        { """{"image":"IMAGE","auth":{"username":"u"}}""", "container.auth" },
        { """{"image":"IMAGE","env":{"A=B":"1"}}""", "container.env" },
    };

    [Theory]
    [MemberData(nameof(BadContainers))]
    public async Task BadContainerIs400NamingTheFieldAndAddsNothing(string container, string field)
    {
        var (key, _, _, reservationId) = await ReservationAsync(features: [Features.Container]);
        var body = $$"""{"name":"web","type":"container","container":{{container.Replace("IMAGE", Image, StringComparison.Ordinal)}}}""";

        var (status, problem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", key, body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem!["errors"]![field] is not null, problem.ToJsonString());
        Assert.Empty((await _grid.GetAsync($"/api/v1/reservations/{reservationId}", key))["workloadIds"]!.AsArray());
    }

    [Theory]
    [InlineData("""{"name":"web","type":"process","process":{"command":"/bin/true"},"container":{"image":"IMAGE"}}""", "container")]
    [InlineData("""{"name":"data","type":"container","container":{"image":"IMAGE"},"volume":{"size":1}}""", "volume")]
    [InlineData("""{"name":"data","type":"volume","volume":{"size":0}}""", "volume.size")]
    [InlineData("""{"name":"data","type":"volume"}""", "volume.size")]
    [InlineData("""{"name":"web","type":"container"}""", "container.image")]
    public async Task ContainerAndVolumeFieldsBelongToTheirTypes(string body, string field)
    {
        var (key, _, _, reservationId) = await ReservationAsync(features: [Features.Container]);

        var (status, problem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", key,
            body.Replace("IMAGE", Image, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem!["errors"]![field] is not null, problem.ToJsonString());
    }

    [Fact]
    public async Task ContainerOnANodeWithoutTheContainerFeatureIs409NamingNodeAndFeature()
    {
        var (key, nodeId, _, reservationId) = await ReservationAsync(features: [Features.Process]);

        var (status, problem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", key,
            new { name = "web", type = "container", container = new { image = Image } });

        Assert.Equal(HttpStatusCode.Conflict, status);
        var detail = problem!["detail"]!.GetValue<string>();
        Assert.Contains($"Node {nodeId}", detail);
        Assert.Contains("container feature", detail);
    }

    [Fact]
    public async Task NodesShowTheFeaturesAndAddressTheirAgentsReportAndRejectUnknownOnes()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, nodeKey) = await _grid.RegisterNodeAsync(key, farm);

        await BeatAsync(nodeId, nodeKey, [Features.Process, Features.Container], "10.1.2.3");
        var node = await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key);
        Assert.Equal(["container", "process"], node["features"]!.AsArray().Select(f => f!.GetValue<string>()).ToArray());
        Assert.Equal("10.1.2.3", node["address"]!.GetValue<string>());

        var (unknown, problem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey,
            new { uptime = 1, features = new[] { "warp-drive" }, address = "not an address" });
        Assert.Equal(HttpStatusCode.BadRequest, unknown);
        Assert.NotNull(problem!["errors"]!["features"]);
        Assert.NotNull(problem["errors"]!["address"]);
        Assert.Equal(2, (await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key))["features"]!.AsArray().Count);
    }

    [Fact]
    public async Task ReservationsRequiringAFeatureArePlacedOnlyOnNodesThatHaveIt()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var plain = await _grid.RegisterNodeAsync(key, farm, mru: 64 * GiB);
        var able = await _grid.RegisterNodeAsync(key, farm, mru: 16 * GiB);
        await BeatAsync(plain.NodeId, plain.NodeKey, [Features.Process], null);
        await BeatAsync(able.NodeId, able.NodeKey, [Features.Process, Features.Container], null);

        var (placed, reservation) = await _grid.ReserveAsync(key, new
        {
            resources = new { cru = 1, mru = GiB },
            constraints = new { farmIds = new[] { farm }, features = new[] { "container" } },
            strategy = "spread",
        });
        var (bad, problem) = await _grid.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB }, constraints = new { features = new[] { "teleport" } } });
        var (none, unplaceable) = await _grid.ReserveAsync(key, new
        {
            resources = new { cru = 1, mru = GiB },
            constraints = new { farmIds = new[] { farm }, features = new[] { "kvm" } },
        });

        Assert.Equal(HttpStatusCode.Created, placed);
        Assert.Equal(able.NodeId, reservation!["nodeId"]!.GetValue<long>());
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.NotNull(problem!["errors"]!["constraints.features"]);
        Assert.Equal(HttpStatusCode.Conflict, none);
        Assert.Equal(2, unplaceable!["rejections"]!["missing feature"]!.GetValue<int>());
    }

    [Fact]
    public async Task VolumesAndContainerLayersNeverExceedTheReservationsSru()
    {
        var (key, _, _, reservationId) = await ReservationAsync(features: [Features.Container], sru: 10 * GiB);
        var path = $"/api/v1/reservations/{reservationId}/workloads";

        var data = await _grid.SendOkAsync(HttpMethod.Post, path, key, new { name = "data", type = "volume", volume = new { size = 6 * GiB } }, HttpStatusCode.Created);
        var (tooBig, problem) = await _grid.SendAsync(HttpMethod.Post, path, key, new { name = "more", type = "volume", volume = new { size = 5 * GiB } });
        var (layer, layerProblem) = await _grid.SendAsync(HttpMethod.Post, path, key,
            new { name = "web", type = "container", resources = new { sru = 5 * GiB }, container = new { image = Image } });
        var (unknown, unknownProblem) = await _grid.SendAsync(HttpMethod.Post, path, key,
            new { name = "web", type = "container", container = new { image = Image, mounts = new[] { new { volume = "logs", path = "/logs" } } } });
        var (twice, _) = await _grid.SendAsync(HttpMethod.Post, path, key, new { name = "data", type = "volume", volume = new { size = GiB } });

        Assert.Equal(6 * GiB, data["spec"]!["volume"]!["size"]!.GetValue<long>());
        Assert.Equal(HttpStatusCode.Conflict, tooBig);
        Assert.Contains($"sru {10 * GiB}", problem!["detail"]!.GetValue<string>());
        Assert.Contains($"use {6 * GiB}", problem["detail"]!.GetValue<string>());
        Assert.Contains($"{5 * GiB} more", problem["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Conflict, layer);
        Assert.Contains($"use {6 * GiB}", layerProblem!["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Conflict, unknown);
        Assert.Contains("no volume named logs", unknownProblem!["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Conflict, twice);
        Assert.Single((await _grid.GetAsync($"/api/v1/reservations/{reservationId}", key))["workloadIds"]!.AsArray());
    }

    [Fact]
    public async Task AContainerWithoutSruCountsAsTheDefaultWritableLayer()
    {
        const long Layer = ContainerSpec.DefaultWritableLayer;
        var (key, _, _, reservationId) = await ReservationAsync(features: [Features.Container], sru: GiB);
        var path = $"/api/v1/reservations/{reservationId}/workloads";
        var (bareKey, _, _, bare) = await ReservationAsync(features: [Features.Container], sru: 0);

        await _grid.SendOkAsync(HttpMethod.Post, path, key, new { name = "data", type = "volume", volume = new { size = GiB - Layer } }, HttpStatusCode.Created);
        var (fits, _) = await _grid.SendAsync(HttpMethod.Post, path, key, new { name = "web", type = "container", container = new { image = Image } });
        var (over, problem) = await _grid.SendAsync(HttpMethod.Post, path, key, new { name = "worker", type = "container", container = new { image = Image } });
        var (none, noneProblem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{bare}/workloads", bareKey,
            new { name = "web", type = "container", container = new { image = Image } });

        Assert.Equal(256L << 20, Layer);
        Assert.Equal(HttpStatusCode.Created, fits);
        Assert.Equal(HttpStatusCode.Conflict, over);
        Assert.Contains($"use {GiB}", problem!["detail"]!.GetValue<string>());
        Assert.Contains($"worker asks for {Layer} more", problem["detail"]!.GetValue<string>());
        Assert.Equal(2, (await _grid.GetAsync($"/api/v1/reservations/{reservationId}", key))["workloadIds"]!.AsArray().Count);
        Assert.Equal(HttpStatusCode.Conflict, none);
        Assert.Contains("sru 0 bytes", noneProblem!["detail"]!.GetValue<string>());
        Assert.Empty((await _grid.GetAsync($"/api/v1/reservations/{bare}", bareKey))["workloadIds"]!.AsArray());
    }

    [Fact]
    public async Task PullCredentialsReachTheNodeAndNoAnswerToTheTenant()
    {
        var (key, nodeId, nodeKey, reservationId) = await ReservationAsync(features: [Features.Container], sru: 10 * GiB);
        await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", key,
            new { name = "data", type = "volume", volume = new { size = GiB } }, HttpStatusCode.Created);

        var (status, created) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", key, new
        {
            name = "web",
            type = "container",
            container = new
            {
                image = Image,
                entrypoint = new[] { "/bin/httpd" },
                args = new[] { "-f", "-p", "8080" },
                workdir = "/",
                ports = new[] { new { name = "http", port = 8080 } },
                mounts = new[] { new { volume = "data", path = "/data", readOnly = false } },
                restart = "always",
                auth = new { username = "shop", password = "s3cret-pull-password" },
            },
        });
        var workloadId = created!["workloadId"]!.GetValue<long>();
        var shown = await _grid.GetAsync($"/api/v1/workloads/{workloadId}", key);
        var desired = (await BeatAsync(nodeId, nodeKey, [Features.Container], null))["desired"]!.AsArray();

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.DoesNotContain("s3cret", created.ToJsonString());
        Assert.DoesNotContain("s3cret", shown.ToJsonString());
        Assert.Equal("always", shown["spec"]!["container"]!["restart"]!.GetValue<string>());
        var assignment = desired.Single(d => d!["workloadId"]!.GetValue<long>() == workloadId)!;
        Assert.Equal("s3cret-pull-password", assignment["auth"]!["password"]!.GetValue<string>());
        Assert.Equal(shown["twinId"]!.GetValue<long>(), assignment["twinId"]!.GetValue<long>());
        Assert.Equal("/data", assignment["spec"]!["container"]!["mounts"]![0]!["path"]!.GetValue<string>());
        Assert.DoesNotContain("s3cret", (await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key)).ToJsonString());
    }

    [Fact]
    public async Task ReportsShowReasonDigestEndpointsAndATailOfTheLogs()
    {
        var (key, nodeId, nodeKey, reservationId) = await ReservationAsync(features: [Features.Container]);
        var workloadId = (await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", key,
            new { name = "web", type = "container", container = new { image = Image, ports = new[] { new { name = "http", port = 8080 } } } },
            HttpStatusCode.Created))["workloadId"]!.GetValue<long>();

        await _grid.HeartbeatAsync(nodeId, nodeKey, new[] { new { workloadId, epoch = 1, state = "pulling", logs = "one\ntwo\n" } });
        await _grid.HeartbeatAsync(nodeId, nodeKey, new object[]
        {
            new
            {
                workloadId, epoch = 1, state = "running", digest = "sha256:" + Hex, logs = "three\nfour\n",
                endpoints = new[] { new { name = "http", address = "10.1.2.3", port = 23456 } },
            },
        });
        var running = await _grid.GetAsync($"/api/v1/workloads/{workloadId}", key);
        var tail = await LogsAsync(workloadId, key, "?tail=3");
        await _grid.HeartbeatAsync(nodeId, nodeKey, new[] { new { workloadId, epoch = 1, state = "failed", reason = "oom-killed", message = "memory limit" } });
        var failed = await _grid.GetAsync($"/api/v1/workloads/{workloadId}", key);
        var (badTail, problem) = await _grid.SendAsync(HttpMethod.Get, $"/api/v1/workloads/{workloadId}/logs?tail=0", key, null);

        Assert.Equal("running", running["state"]!.GetValue<string>());
        Assert.Equal("sha256:" + Hex, running["digest"]!.GetValue<string>());
        var endpoint = Assert.Single(running["endpoints"]!.AsArray())!;
        Assert.Equal(("http", "10.1.2.3", 23456), (endpoint["name"]!.GetValue<string>(), endpoint["address"]!.GetValue<string>(), endpoint["port"]!.GetValue<int>()));
        Assert.Equal("two\nthree\nfour\n", tail);
        Assert.Equal("one\ntwo\nthree\nfour\n", await LogsAsync(workloadId, key, ""));
        Assert.Equal("failed", failed["state"]!.GetValue<string>());
        Assert.Equal("oom-killed", failed["reason"]!.GetValue<string>());
        Assert.Equal("memory limit", failed["message"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, badTail);
        Assert.NotNull(problem!["errors"]!["tail"]);
        var (badEndpoint, endpointProblem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey, new
        {
            uptime = 10,
            workloads = new[] { new { workloadId, epoch = 1, state = "running", endpoints = new[] { new { name = "http", address = "nowhere", port = 0 } } } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, badEndpoint);
        Assert.NotNull(endpointProblem!["errors"]!["workloads[0].endpoints[0]"]);
        Assert.Equal("failed", (await _grid.GetAsync($"/api/v1/workloads/{workloadId}", key))["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task AMoveResetsVolumesAndEndpointsAndCarriesTheCredentialsToTheNewNode()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var first = await _grid.RegisterNodeAsync(key, farm);
        var second = await _grid.RegisterNodeAsync(key, farm);
        var process = await _grid.RegisterNodeAsync(key, farm, mru: 64 * GiB);
        await BeatAsync(first.NodeId, first.NodeKey, [Features.Container], "10.0.0.1");
        await BeatAsync(process.NodeId, process.NodeKey, [Features.Process], "10.0.0.3");
        var reservationId = (await _grid.ReserveAsync(key, new
        {
            resources = new { cru = 1, mru = GiB, sru = 4 * GiB },
            constraints = new { farmIds = new[] { farm }, features = new[] { "container" } },
        })).Body!["reservationId"]!.GetValue<long>();
        var path = $"/api/v1/reservations/{reservationId}/workloads";
        await _grid.SendOkAsync(HttpMethod.Post, path, key, new { name = "data", type = "volume", volume = new { size = GiB } }, HttpStatusCode.Created);
        var workloadId = (await _grid.SendOkAsync(HttpMethod.Post, path, key, new
        {
            name = "web",
            type = "container",
            container = new { image = Image, ports = new[] { new { name = "http", port = 8080 } }, auth = new { username = "u", password = "p4ss" } },
        }, HttpStatusCode.Created))["workloadId"]!.GetValue<long>();
        await _grid.HeartbeatAsync(first.NodeId, first.NodeKey, new[]
        {
            new { workloadId, epoch = 1, state = "running", endpoints = new[] { new { name = "http", address = "10.0.0.1", port = 20001 } } },
        });
        Assert.Single((await _grid.GetAsync($"/api/v1/workloads/{workloadId}", key))["endpoints"]!.AsArray());

        // The second node gains the container feature only now: the drain must pass the process-only node by.
        await BeatAsync(second.NodeId, second.NodeKey, [Features.Container], "10.0.0.2");
        await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{first.NodeId}/drain", key, new { maxParallel = 1 }, HttpStatusCode.OK);
        await Grid.Testing.Poll.UntilAsync(async () => (await _grid.GetAsync($"/api/v1/reservations/{reservationId}", key))["nodeId"]!.GetValue<long>() == second.NodeId,
            TimeSpan.FromSeconds(20), "the reservation moves to the other container node");

        var events = (await _grid.GetAsync($"/api/v1/reservations/{reservationId}/events", key)).AsArray();
        var reset = Assert.Single(events, e => e!["kind"]!.GetValue<string>() == "volume-reset")!;
        Assert.Contains("Volume data", reset["message"]!.GetValue<string>());
        Assert.Equal(second.NodeId, reset["nodeId"]!.GetValue<long>());
        var moved = await _grid.GetAsync($"/api/v1/workloads/{workloadId}", key);
        Assert.Empty(moved["endpoints"]!.AsArray());
        var desired = (await BeatAsync(second.NodeId, second.NodeKey, [Features.Container], "10.0.0.2"))["desired"]!.AsArray();
        var assignment = desired.Single(d => d!["workloadId"]!.GetValue<long>() == workloadId)!;
        Assert.Equal(2, assignment["epoch"]!.GetValue<long>());
        Assert.Equal("p4ss", assignment["auth"]!["password"]!.GetValue<string>());
        Assert.Empty((await _grid.GetAsync($"/api/v1/nodes/{process.NodeId}", key))["allocations"]!.AsArray());
    }

    private async Task<string> LogsAsync(long workloadId, string key, string query)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/workloads/{workloadId}/logs{query}");
        request.Headers.Authorization = new("Bearer", key);
        using var response = await fixture.App.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync();
    }

    private Task<JsonNode> BeatAsync(long nodeId, string nodeKey, string[] features, string? address) =>
        _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey, new { uptime = 10, features, address }, HttpStatusCode.OK);

    // Room for a volume and a few containers' default writable layers (ContainerSpec.DefaultWritableLayer each).
    private async Task<(string Key, long NodeId, string NodeKey, long ReservationId)> ReservationAsync(string[] features, long sru = GiB)
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, nodeKey) = await _grid.RegisterNodeAsync(key, farm);
        await BeatAsync(nodeId, nodeKey, features, "10.1.2.3");
        var (status, reservation) = await _grid.ReserveAsync(key, new { resources = new { cru = 2, mru = 2 * GiB, sru }, constraints = new { farmIds = new[] { farm } } });
        Assert.Equal(HttpStatusCode.Created, status);
        return (key, nodeId, nodeKey, reservation!["reservationId"]!.GetValue<long>());
    }

    private static class Features
    {
        public const string Process = "process";
        public const string Container = "container";
    }
}
