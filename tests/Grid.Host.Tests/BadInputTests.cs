using System.Net;
using System.Text.Json.Nodes;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>Every client mistake gets a 4xx ProblemDetails and changes nothing.</summary>
[Collection(GridAppCollection.Name)]
public sealed class BadInputTests(GridAppFixture fixture)
{
    private readonly GridClient _grid = fixture.Client;

    public static TheoryData<string, string, string> BadBodies => new()
    {
        // what, path (FARM/RES placeholders), raw body
        { "malformed json", "/api/v1/reservations", "{\"resources\": {\"cru\": 1," },
        { "not an object", "/api/v1/reservations", "[1,2]" },
        { "missing resources", "/api/v1/reservations", "{}" },
        { "negative cru", "/api/v1/reservations", "{\"resources\":{\"cru\":-1,\"mru\":1}}" },
        { "zero everything", "/api/v1/reservations", "{\"resources\":{\"cru\":0,\"mru\":0}}" },
        { "absurd mru", "/api/v1/reservations", "{\"resources\":{\"cru\":1,\"mru\":99999999999999999}}" },
        { "too many ipv4", "/api/v1/reservations", "{\"resources\":{\"cru\":1,\"mru\":1,\"ipv4\":1000}}" },
        { "string for number", "/api/v1/reservations", "{\"resources\":{\"cru\":\"two\",\"mru\":1}}" },
        { "unknown strategy", "/api/v1/reservations", "{\"resources\":{\"cru\":1,\"mru\":1},\"strategy\":\"random\"}" },
        { "negative farm filter", "/api/v1/reservations", "{\"resources\":{\"cru\":1,\"mru\":1},\"constraints\":{\"farmIds\":[-4]}}" },
        { "farm without name", "/api/v1/farms", "{\"cpuOvercommit\":1}" },
        { "farm name of control chars", "/api/v1/farms", "{\"name\":\"\\u0001\"}" },
        // A pattern's "$" also matches before a final line break: such names were accepted (and stored trimmed).
        { "farm name ending in a line break", "/api/v1/farms", "{\"name\":\"f\\n\"}" },
        { "workload name ending in a line break", "/api/v1/reservations/RES/workloads", "{\"name\":\"w\\n\",\"type\":\"process\",\"process\":{\"command\":\"x\"}}" },
        { "farm overcommit zero", "/api/v1/farms", "{\"name\":\"f\",\"cpuOvercommit\":0}" },
        { "farm overcommit huge", "/api/v1/farms", "{\"name\":\"f\",\"cpuOvercommit\":1000}" },
        { "ip not cidr", "/api/v1/farms", "{\"name\":\"f\",\"publicIps\":[{\"ip\":\"185.69.166.2\",\"gateway\":\"185.69.166.1\"}]}" },
        { "gateway outside subnet", "/api/v1/farms", "{\"name\":\"f\",\"publicIps\":[{\"ip\":\"185.69.166.2/24\",\"gateway\":\"10.0.0.1\"}]}" },
        { "duplicate ip", "/api/v1/farms", "{\"name\":\"f\",\"publicIps\":[{\"ip\":\"1.2.3.4/24\",\"gateway\":\"1.2.3.1\"},{\"ip\":\"1.2.3.4/24\",\"gateway\":\"1.2.3.1\"}]}" },
        { "unknown certification", "/api/v1/farms", "{\"name\":\"f\",\"certification\":\"platinum\"}" },
        { "node without resources", "/api/v1/nodes", "{\"farmId\":FARM,\"location\":{\"country\":\"BE\"}}" },
        { "node with zero cores", "/api/v1/nodes", "{\"farmId\":FARM,\"resources\":{\"cru\":0,\"mru\":1},\"location\":{\"country\":\"BE\"}}" },
        { "node without country", "/api/v1/nodes", "{\"farmId\":FARM,\"resources\":{\"cru\":1,\"mru\":1},\"location\":{}}" },
        { "node absurd cores", "/api/v1/nodes", "{\"farmId\":FARM,\"resources\":{\"cru\":100000,\"mru\":1},\"location\":{\"country\":\"BE\"}}" },
        { "workload without type", "/api/v1/reservations/RES/workloads", "{\"name\":\"w\"}" },
        { "process without command", "/api/v1/reservations/RES/workloads", "{\"name\":\"w\",\"type\":\"process\",\"process\":{}}" },
        { "process spec on a vm", "/api/v1/reservations/RES/workloads", "{\"name\":\"w\",\"type\":\"vm\",\"process\":{\"command\":\"x\"}}" },
        { "workload with ipv4", "/api/v1/reservations/RES/workloads", "{\"name\":\"w\",\"type\":\"vm\",\"resources\":{\"ipv4\":1}}" },
        { "workload negative mru", "/api/v1/reservations/RES/workloads", "{\"name\":\"w\",\"type\":\"vm\",\"resources\":{\"mru\":-5}}" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadBodyIsRejectedWithProblemDetailsAndChangesNothing(string what, string path, string body)
    {
        var world = await WorldAsync();
        var before = await SnapshotAsync(world);

        var (status, problem) = await _grid.SendAsync(HttpMethod.Post,
            path.Replace("RES", world.ReservationId.ToString()), world.Key, body.Replace("FARM", world.FarmId.ToString()));

        Assert.True(status == HttpStatusCode.BadRequest, $"{what}: got {status} {problem?.ToJsonString()}");
        AssertProblem(problem, 400);
        Assert.Equal(before, await SnapshotAsync(world));
    }

    [Fact]
    public async Task WrongOrMissingKeysAre401()
    {
        var world = await WorldAsync();
        var before = await SnapshotAsync(world);
        var reservation = "{\"resources\":{\"cru\":1,\"mru\":1}}";

        foreach (var key in new string?[] { null, "", "nonsense", "gt_1_deadbeef", world.Key + "x" })
        {
            var (status, problem) = await _grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", key, reservation);
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            AssertProblem(problem, 401);
        }

        // A valid key of the wrong role is known but not allowed: 403.
        var (nodeAsTenant, nodeProblem) = await _grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", world.NodeKey, reservation);
        Assert.Equal(HttpStatusCode.Forbidden, nodeAsTenant);
        AssertProblem(nodeProblem, 403);
        var (beat, beatProblem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/nodes/{world.NodeId}/heartbeat", world.Key, "{\"uptime\":1}");
        Assert.Equal(HttpStatusCode.Forbidden, beat);
        AssertProblem(beatProblem, 403);
        var (otherNode, _) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/nodes/{world.NodeId + 1}/heartbeat", world.NodeKey, "{\"uptime\":1}");
        Assert.Equal(HttpStatusCode.Unauthorized, otherNode);
        Assert.Equal(before, await SnapshotAsync(world));
    }

    [Fact]
    public async Task BadHeartbeatsAre400()
    {
        var world = await WorldAsync();
        foreach (var body in new[] { "{}", "{\"uptime\":-1}", "{\"uptime\":1,\"workloads\":[{\"workloadId\":0,\"epoch\":1,\"state\":\"running\"}]}",
                     "{\"uptime\":1,\"workloads\":[{\"workloadId\":5,\"epoch\":1,\"state\":\"dancing\"}]}", "{\"uptime\":1,\"desiredVersion\":-1}",
                     "{\"uptime\":1,\"reportsVersion\":-1}", "{\"uptime\":1,\"reportsVersion\":3,\"reportsBase\":-1}", "{\"uptime\":1,\"reportsBase\":2}" })
        {
            var (status, problem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/nodes/{world.NodeId}/heartbeat", world.NodeKey, body);
            Assert.True(status == HttpStatusCode.BadRequest, $"{body}: {status}");
            AssertProblem(problem, 400);
        }
    }

    [Fact]
    public async Task UnknownIdsAre404()
    {
        var world = await WorldAsync();
        foreach (var (method, path, body) in new (HttpMethod, string, string?)[]
                 {
                     (HttpMethod.Get, "/api/v1/reservations/999999999", null),
                     (HttpMethod.Delete, "/api/v1/reservations/999999999", null),
                     (HttpMethod.Get, "/api/v1/reservations/999999999/events", null),
                     (HttpMethod.Post, "/api/v1/reservations/999999999/workloads", "{\"name\":\"w\",\"type\":\"vm\"}"),
                     (HttpMethod.Get, "/api/v1/workloads/999999999", null),
                     (HttpMethod.Delete, "/api/v1/workloads/999999999", null),
                     (HttpMethod.Get, "/api/v1/nodes/999999999", null),
                     (HttpMethod.Post, "/api/v1/nodes/999999999/drain", null),
                     (HttpMethod.Get, "/api/v1/farms/999999999", null),
                     (HttpMethod.Post, "/api/v1/nodes", "{\"farmId\":999999999,\"resources\":{\"cru\":1,\"mru\":1},\"location\":{\"country\":\"BE\"}}"),
                 })
        {
            var (status, problem) = await _grid.SendAsync(method, path, world.Key, body);
            Assert.True(status == HttpStatusCode.NotFound, $"{method} {path}: {status}");
            AssertProblem(problem, 404);
        }
    }

    [Fact]
    public async Task WorkloadOnACancelledReservationIs409()
    {
        var world = await WorldAsync();
        await _grid.SendAsync(HttpMethod.Delete, $"/api/v1/reservations/{world.ReservationId}", world.Key, null);

        var (status, problem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{world.ReservationId}/workloads", world.Key,
            "{\"name\":\"w\",\"type\":\"vm\"}");

        Assert.Equal(HttpStatusCode.Conflict, status);
        AssertProblem(problem, 409);
    }

    internal static void AssertProblem(JsonNode? problem, int status)
    {
        Assert.NotNull(problem);
        Assert.Equal(status, problem["status"]!.GetValue<int>());
        Assert.False(string.IsNullOrEmpty(problem["title"]?.GetValue<string>()));
    }

    private async Task<World> WorldAsync()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, nodeKey) = await _grid.UpNodeAsync(key, farm);
        var reservation = (await _grid.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB }, constraints = new { farmIds = new[] { farm } } })).Body!;
        return new World(key, farm, nodeId, nodeKey, reservation["reservationId"]!.GetValue<long>());
    }

    /// <summary>Everything the twin can see, as text, to compare before and after a refused request.</summary>
    private async Task<string> SnapshotAsync(World world)
    {
        var farms = await _grid.GetAsync("/api/v1/farms", world.Key);
        var nodes = await _grid.GetAsync("/api/v1/nodes", world.Key);
        foreach (var node in nodes.AsArray())
        {
            node!.AsObject().Remove("lastHeartbeat");
        }

        var reservations = await _grid.GetAsync("/api/v1/reservations", world.Key);
        var workloads = await _grid.GetAsync($"/api/v1/reservations/{world.ReservationId}", world.Key);
        return string.Join("\n", farms.ToJsonString(), nodes.ToJsonString(), reservations.ToJsonString(), workloads.ToJsonString());
    }

    private sealed record World(string Key, long FarmId, long NodeId, string NodeKey, long ReservationId);
}
