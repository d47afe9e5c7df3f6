using System.Net;
using System.Text.Json.Nodes;
using Grid.Host.Security;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>
/// Every endpoint the app maps × every role × owner or other twin: the endpoint's declared access is what a
/// caller gets. The endpoints come from the app itself, so one mapped without a declared role fails here.
/// </summary>
public sealed class AccessTests : IAsyncLifetime
{
    private const string OperatorKey = "operator-secret-for-the-access-test";

    private GridApp _app = null!;

    public async Task InitializeAsync() => _app = await GridApp.StartAsync($"--Grid:Billing:OperatorKey={OperatorKey}");

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task EveryEndpointAdmitsExactlyItsRolesAndOnlyTheOwnersThings()
    {
        var endpoints = _app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (Method: m, Endpoint: e)))
            .ToList();
        var undeclared = endpoints.Where(e => e.Endpoint.Metadata.GetMetadata<GridAccess>() is null)
            .Select(e => $"{e.Method} {e.Endpoint.RoutePattern.RawText}").ToList();
        Assert.True(undeclared.Count == 0, "Endpoints without a declared role: " + string.Join(", ", undeclared));
        Assert.True(endpoints.Count >= 20, $"only {endpoints.Count} endpoints found");

        var world = await AccessWorld.CreateAsync(new GridClient(_app.Client), OperatorKey);
        var checkedCount = 0;
        foreach (var (method, endpoint) in endpoints.OrderBy(e => Rank(e.Method, e.Endpoint.RoutePattern.RawText!)))
        {
            var pattern = endpoint.RoutePattern.RawText!;
            var access = endpoint.Metadata.GetMetadata<GridAccess>()!;
            var path = world.Fill(pattern);
            var ownsRouteThing = endpoint.RoutePattern.Parameters.Count > 0;
            var body = AccessWorld.Body(method, pattern, world);
            var ownerSucceeded = false;
            var seen = new List<string>();

            // Keeps the owner's node up (it is declared down after missed heartbeats) so placements can succeed.
            await world.Grid.HeartbeatAsync(world.NodeId, world.NodeKey);

            // Other twins first, the owner last: the owner's call may change or delete the thing.
            foreach (var caller in world.Callers.OrderBy(c => c.IsOwnerSide))
            {
                var (status, json) = await world.Grid.SendAsync(new HttpMethod(method), path, caller.Key, body);
                var code = (int)status;
                var what = $"{method} {pattern} as {caller.Name}: {code} {json?.ToJsonString()}";
                Assert.True(code < 500, what);
                if (code >= 400)
                {
                    Assert.True(json?["status"]?.GetValue<int>() == code, "not ProblemDetails: " + what);
                }

                if (access.IsPublic)
                {
                    Assert.True(code is not (401 or 403), what);
                }
                else if (caller.Key is null)
                {
                    Assert.True(code == 401, what);
                }
                else if (!access.Roles.Intersect(caller.Roles).Any())
                {
                    Assert.True(code == 403, what);
                }
                else if (!caller.IsOwnerSide && ownsRouteThing)
                {
                    Assert.True(code is >= 400 and not 403, "another twin reached the owner's thing: " + what);
                }
                else
                {
                    Assert.True(code is not (401 or 403), what);
                    ownerSucceeded |= caller.IsOwnerSide && code < 300;
                }

                seen.Add($"{caller.Name}={code}");
                checkedCount++;
            }

            if (AccessWorld.IsKnown(method, pattern) && !access.IsPublic)
            {
                Assert.True(ownerSucceeded, $"{method} {pattern}: no caller with the role succeeded on the owner's thing: {string.Join(", ", seen)}");
            }
        }

        Assert.True(checkedCount >= endpoints.Count * world.Callers.Count);
    }

    /// <summary>Reads first, then writes, then deletes (workloads before their reservation, keys last).</summary>
    private static int Rank(string method, string pattern) => method switch
    {
        "GET" => 0,
        "POST" or "PUT" or "PATCH" => pattern.Contains("drain", StringComparison.Ordinal) ? 2 : 1,
        _ => pattern.Contains("workloads", StringComparison.Ordinal) ? 3
            : pattern.Contains("drain", StringComparison.Ordinal) ? 4
            : pattern.Contains("reservations", StringComparison.Ordinal) ? 5 : 6,
    };
}

/// <summary>Twin A's things (farm, node, reservation, workload, a spare key) and the callers of the matrix.</summary>
internal sealed class AccessWorld
{
    private static readonly Dictionary<string, Func<AccessWorld, object?>> s_bodies = new()
    {
        ["POST /api/v1/twins"] = _ => new { name = "someone" },
        ["POST /api/v1/keys/"] = _ => new { name = "matrix", roles = new[] { "tenant" } },
        ["PUT /api/v1/twins/me/public-key"] = _ => new { publicKey = (string?)null },
        ["POST /api/v1/farms/"] = _ => new { name = "farm", publicIps = Array.Empty<object>() },
        ["POST /api/v1/nodes/"] = w => new { farmId = w.FarmId, resources = new { cru = 1, mru = GiB, sru = 0, hru = 0 }, location = new { country = "BE" } },
        ["POST /api/v1/nodes/{nodeId:long}/drain"] = _ => new { maxParallel = 1 },
        ["POST /api/v1/nodes/{nodeId:long}/heartbeat"] = _ => new { uptime = 1 },
        ["POST /api/v1/providers/"] = w => new { twinId = w.TwinId, share = 0.1 },
        ["POST /api/v1/reservations/"] = w => new { resources = new { cru = 1, mru = GiB }, constraints = new { farmIds = new[] { w.FarmId } } },
        ["POST /api/v1/reservations/{reservationId:long}/workloads"] = _ => new { name = "w", type = "vm" },
        ["POST /api/v1/names/"] = _ => new FreshName(),
        ["PUT /api/v1/names/{name}"] = _ => new { backends = new[] { new { url = "http://127.0.0.1:8/" } } },
    };

    private static readonly HashSet<string> s_knownWithoutBody =
    [
        "GET /api/v1/keys/", "DELETE /api/v1/keys/{keyId:long}", "GET /api/v1/farms/", "GET /api/v1/farms/{farmId:long}",
        "GET /api/v1/nodes/", "GET /api/v1/nodes/{nodeId:long}", "DELETE /api/v1/nodes/{nodeId:long}/drain",
        "DELETE /api/v1/nodes/{nodeId:long}/quarantine",
        "GET /api/v1/reservations/", "GET /api/v1/reservations/{reservationId:long}", "DELETE /api/v1/reservations/{reservationId:long}",
        "GET /api/v1/reservations/{reservationId:long}/events", "GET /api/v1/workloads/{workloadId:long}",
        "GET /api/v1/workloads/{workloadId:long}/logs", "DELETE /api/v1/workloads/{workloadId:long}", "GET /api/v1/cluster",
        "GET /api/v1/names/", "GET /api/v1/names/{name}", "DELETE /api/v1/names/{name}",
        "POST /api/v1/nodes/{nodeId:long}/rent", "DELETE /api/v1/nodes/{nodeId:long}/rent", "GET /api/v1/rents",
        "GET /api/v1/providers/", "GET /api/v1/providers/{twinId:long}/earnings",
    ];

    public required GridClient Grid { get; init; }

    public required long TwinId { get; init; }

    public required long FarmId { get; init; }

    public required long NodeId { get; init; }

    public required string NodeKey { get; init; }

    public required long ReservationId { get; init; }

    public required long WorkloadId { get; init; }

    public required long SpareKeyId { get; init; }

    public required string Name { get; init; }

    public required IReadOnlyList<Caller> Callers { get; init; }

    public static bool IsKnown(string method, string pattern) =>
        s_bodies.ContainsKey($"{method} {pattern}") || s_knownWithoutBody.Contains($"{method} {pattern}");

    public static object? Body(string method, string pattern, AccessWorld world) =>
        s_bodies.TryGetValue($"{method} {pattern}", out var body) ? body(world)
        : method is "POST" or "PUT" or "PATCH" ? new { } : null;

    public static async Task<AccessWorld> CreateAsync(GridClient grid, string operatorKey)
    {
        var (twinId, owner) = await grid.CreateTwinAsync("owner");
        var (_, other) = await grid.CreateTwinAsync("other");
        var farm = await grid.CreateFarmAsync(owner);
        var (nodeId, nodeKey) = await grid.UpNodeAsync(owner, farm);
        var (_, otherNodeKey) = await grid.UpNodeAsync(other, await grid.CreateFarmAsync(other));
        var reservationId = (await grid.ReserveAsync(owner, new { resources = new { cru = 2, mru = 2 * GiB }, constraints = new { farmIds = new[] { farm } } }))
            .Body!["reservationId"]!.GetValue<long>();
        var workloadId = (await grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", owner,
            new { name = "w", type = "vm" }, HttpStatusCode.Created))["workloadId"]!.GetValue<long>();
        async Task<JsonNode> KeyAsync(string name, params string[] roles) =>
            await grid.SendOkAsync(HttpMethod.Post, "/api/v1/keys", owner, new { name, roles }, HttpStatusCode.Created);
        var tenantKey = (await KeyAsync("tenant-only", "tenant"))["apiKey"]!.GetValue<string>();
        var farmerKey = (await KeyAsync("farmer-only", "farmer"))["apiKey"]!.GetValue<string>();
        var spare = (await KeyAsync("spare", "tenant"))["keyId"]!.GetValue<long>();
        var name = new FreshName().Name;
        await grid.SendOkAsync(HttpMethod.Post, "/api/v1/names", owner, new { name, backends = new[] { new { url = "http://127.0.0.1:9/" } } }, HttpStatusCode.Created);
        return new AccessWorld
        {
            Grid = grid,
            TwinId = twinId,
            FarmId = farm,
            NodeId = nodeId,
            NodeKey = nodeKey,
            ReservationId = reservationId,
            WorkloadId = workloadId,
            SpareKeyId = spare,
            Name = name,
            Callers =
            [
                new("anonymous", null, [], IsOwnerSide: false),
                new("owner's tenant key", tenantKey, ["tenant"], IsOwnerSide: true),
                new("owner's farmer key", farmerKey, ["farmer"], IsOwnerSide: true),
                new("owner's full key", owner, ["tenant", "farmer"], IsOwnerSide: true),
                new("owner's node", nodeKey, ["node"], IsOwnerSide: true),
                new("operator", operatorKey, ["operator"], IsOwnerSide: true),
                new("other twin", other, ["tenant", "farmer"], IsOwnerSide: false),
                new("other twin's node", otherNodeKey, ["node"], IsOwnerSide: false),
            ],
        };
    }

    /// <summary>The path with the owner's ids in its parameters (an unknown parameter gets the owner's twin id).</summary>
    public string Fill(string pattern)
    {
        var segments = pattern.Split('/').Select(segment =>
        {
            if (!segment.StartsWith('{'))
            {
                return segment;
            }

            if (segment == "{name}")
            {
                return Name;
            }

            var name = segment.Trim('{', '}').Split(':')[0].TrimEnd('?');
            return (name switch
            {
                "farmId" => FarmId,
                "nodeId" => NodeId,
                "reservationId" => ReservationId,
                "workloadId" => WorkloadId,
                "keyId" => SpareKeyId,
                _ => TwinId,
            }).ToString(System.Globalization.CultureInfo.InvariantCulture);
        });
        var path = string.Join('/', segments);
        return path.Length > 1 ? path.TrimEnd('/') : path;
    }

    public sealed record Caller(string Name, string? Key, IReadOnlyList<string> Roles, bool IsOwnerSide);

    /// <summary>A name claim's body with a name of its own each time it is sent: every caller of the matrix claims its own.</summary>
    public sealed class FreshName
    {
        private static int s_next;

        public string Name => $"access-{Environment.ProcessId}-{Interlocked.Increment(ref s_next)}";

        public object[] Backends => [new { url = "http://127.0.0.1:9/" }];
    }
}
