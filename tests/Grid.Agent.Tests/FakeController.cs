using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grid.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Grid.Agent.Tests;

/// <summary>
/// A real HTTP server on 127.0.0.1 playing the controller's heartbeat endpoint: it answers with
/// <see cref="Desired"/> and records every heartbeat the agent sends, raw and parsed.
/// </summary>
internal sealed class FakeController : IAsyncDisposable
{
    public const long NodeId = 7;
    public const string NodeKey = "node-key-7";

    private readonly WebApplication _app;

    private FakeController(WebApplication app, long nodeId)
    {
        _app = app;
        Node = nodeId;
    }

    /// <summary>The node whose heartbeats it accepts (with <see cref="NodeKey"/>).</summary>
    public long Node { get; }

    public Uri Url { get; private set; } = null!;

    /// <summary>The desired workloads the next heartbeat answer carries.</summary>
    public ImmutableArray<WorkloadAssignment> Desired { get; set; } = [];

    /// <summary>
    /// The version answered with <see cref="Desired"/>. Set (with <see cref="AnswersUnchanged"/>), a heartbeat that
    /// holds it is answered "unchanged" and an empty list, as the controller answers.
    /// </summary>
    public long DesiredVersion { get; set; }

    /// <summary>When set, a heartbeat holding <see cref="DesiredVersion"/> is answered "unchanged" (see there).</summary>
    public bool AnswersUnchanged { get; set; }

    /// <summary>When set, every heartbeat is answered "unchanged" at <see cref="DesiredVersion"/>, held or not.</summary>
    public bool AnswersUnchangedBlindly { get; set; }

    /// <summary>How many heartbeats were answered "unchanged".</summary>
    public int UnchangedAnswers => _unchangedAnswers;

    private int _unchangedAnswers;

    public ConcurrentQueue<Heartbeat> Heartbeats { get; } = new();

    /// <summary>
    /// When set, every heartbeat's reports version is acknowledged, as the controller acknowledges reports it took
    /// (<see cref="HeartbeatResponse.ReportsAcknowledged"/>); when not, none is, as a controller older than that.
    /// </summary>
    public bool AcknowledgesReports { get; set; }

    /// <summary>When set, heartbeat answers carry fields a later controller release might add.</summary>
    public bool AnswersAsALaterRelease { get; set; }

    public ConcurrentQueue<string> RawBodies { get; } = new();

    public static async Task<FakeController> StartAsync(long nodeId = NodeId)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var controller = new FakeController(app, nodeId);
        app.MapPost("/api/v1/nodes/{nodeId:long}/heartbeat", controller.HeartbeatAsync);
        controller.MapClientEndpoints(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        controller.Url = new Uri(address);
        return controller;
    }

    /// <summary>All reports of a workload at an epoch, oldest first.</summary>
    public IReadOnlyList<WorkloadReport> ReportsOf(long workloadId, long epoch) =>
        [.. Heartbeats.SelectMany(h => h.Workloads).Where(r => r.WorkloadId == workloadId && r.Epoch == epoch)];

    public WorkloadReport? LastReportOf(long workloadId, long epoch) => ReportsOf(workloadId, epoch).LastOrDefault();

    /// <summary>Stops answering: connections are refused from now on.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    /// <summary>Bodies of client calls, by "METHOD path".</summary>
    public ConcurrentDictionary<string, string> ClientBodies { get; } = new();

    /// <summary>A few client endpoints with canned answers, enough to drive the CLI for real.</summary>
    private void MapClientEndpoints(WebApplication app)
    {
        app.MapPost("/api/v1/twins", () => Results.Json(new { twinId = 3, apiKey = "key-3" }, statusCode: 201));
        app.MapPost("/api/v1/nodes", async (HttpRequest request) =>
        {
            ClientBodies["POST /api/v1/nodes"] = await new StreamReader(request.Body).ReadToEndAsync();
            return request.Headers.Authorization.ToString() == "Bearer key-3"
                ? Results.Json(new { nodeId = NodeId, nodeKey = NodeKey, farmId = 1 }, statusCode: 201)
                : Results.Problem(title: "Unauthorized", detail: "unknown api key", statusCode: 401);
        });
        app.MapGet("/api/v1/nodes/{id:long}", (long id) => Results.Json(new
        {
            nodeId = id,
            farmId = 1,
            status = "up",
            draining = false,
            total = new { cru = 8, mru = 16L << 30, sru = 512L << 30, hru = 0 },
            allocations = new[] { new { reservationId = 1 } },
        }));
        app.MapPost("/api/v1/reservations", async (HttpRequest request) =>
        {
            ClientBodies["POST /api/v1/reservations"] = await new StreamReader(request.Body).ReadToEndAsync();
            return Results.Problem(title: "Nothing fits", detail: "0/20 nodes fit: 12 insufficient mru, 8 down", statusCode: 409);
        });
        app.MapPost("/api/v1/reservations/{id:long}/workloads", async (long id, HttpRequest request) =>
        {
            ClientBodies["POST /api/v1/reservations/workloads"] = await new StreamReader(request.Body).ReadToEndAsync();
            return Results.Json(new { workloadId = 12, reservationId = id, state = "pending" }, statusCode: 201);
        });
        app.MapGet("/api/v1/workloads/{id:long}/logs", (long id, int tail) =>
            Results.Text(string.Join("", Enumerable.Range(1, tail).Select(i => $"line {i} of workload {id}\n")), "text/plain"));
        app.MapPost("/api/v1/names", async (HttpRequest request) =>
        {
            ClientBodies["POST /api/v1/names"] = await new StreamReader(request.Body).ReadToEndAsync();
            return Results.Json(new { name = "myshop", url = "http://myshop.gw.example" }, statusCode: 201);
        });
        app.MapDelete("/api/v1/names/{name}", (string name) => name == "myshop"
            ? Results.NoContent()
            : Results.Problem(title: "Not found", detail: $"Name {name} does not exist", statusCode: 404));
        MapBillingEndpoints(app);
        MapMarketEndpoints(app);
    }

    /// <summary>Rent contracts and solution providers, answered as the controller does (amounts in minor units).</summary>
    private void MapMarketEndpoints(WebApplication app)
    {
        var contract = new { id = 31, nodeId = 5, twinId = 3, farmId = 4, createdAt = "2026-11-27T10:00:00+00:00", pricePerHour = 264_000, currency = "USD" };
        app.MapPost("/api/v1/nodes/{id:long}/rent", (long id, HttpRequest request) => id switch
        {
            _ when request.Headers.Authorization.ToString() != "Bearer key-3" => Results.Problem(title: "Unauthorized", detail: "unknown api key", statusCode: 401),
            5 => Results.Json(contract, statusCode: 201),
            _ => Results.Problem(title: "Node in use", detail: $"Node {id} holds other twins' reservations (12, 13): only a node without them can be rented.", statusCode: 409),
        });
        app.MapDelete("/api/v1/nodes/{id:long}/rent", (long id) => id == 5
            ? Results.NoContent()
            : Results.Problem(title: "Not found", detail: $"Rent of node {id} was not found.", statusCode: 404));
        app.MapGet("/api/v1/rents", () => Results.Json(new[] { contract }));
        app.MapPost("/api/v1/providers", async (HttpRequest request) =>
        {
            ClientBodies["POST /api/v1/providers"] = await new StreamReader(request.Body).ReadToEndAsync();
            return request.Headers.Authorization.ToString() == "Bearer operator-key"
                ? Results.Json(new { twinId = 8, sharePpm = 300_000, approvedAt = "2026-11-27T09:00:00+00:00", share = 0.3 }, statusCode: 201)
                : Results.Problem(title: "Forbidden", detail: "operator key required", statusCode: 403);
        });
        app.MapGet("/api/v1/providers", () => Results.Json(new[] { new { twinId = 8, sharePpm = 300_000, approvedAt = "2026-11-27T09:00:00+00:00", share = 0.3 } }));
        app.MapGet("/api/v1/providers/{twinId:long}/earnings", (long twinId) => twinId == 8
            ? Results.Json(new { twinId, amount = 12_345_678, bills = 3, currency = "USD" })
            : Results.Problem(title: "Not found", detail: $"Provider {twinId} was not found.", statusCode: 404));
    }

    /// <summary>Canned billing answers in the controller's shapes (minor units).</summary>
    private void MapBillingEndpoints(WebApplication app)
    {
        app.MapGet("/api/v1/prices", () => Results.Json(new
        {
            currency = "USD",
            certifiedMarkupPercent = 25,
            @default = new { cu = 100_000, su = 50_000, ipu = 40_000 },
            farms = new[] { new { farmId = 4, prices = new { cu = 90_000, su = 45_000, ipu = 30_000 }, version = 2 } },
        }));
        app.MapPost("/api/v1/quotes", async (HttpRequest request) =>
        {
            ClientBodies["POST /api/v1/quotes"] = await new StreamReader(request.Body).ReadToEndAsync();
            return Results.Json(new { nodeId = 5, pricePerHour = 250_000, pricePer30Days = 180_000_000, currency = "USD" });
        });
        app.MapGet("/api/v1/reservations/{id:long}/bills", (long id) => Results.Json(new[]
        {
            new
            {
                billId = $"{id}-2", reservationId = id, sequence = 2, from = "2026-11-27T10:00:00+00:00", to = "2026-11-27T11:00:00+00:00", amount = 250_000,
                lines = new[] { new { nodeId = 5, farmId = 4, seconds = 3600, cu = 2.0, su = 0.5, ipu = 0, amount = 250_000 } },
            },
        }));
        app.MapPost("/api/v1/accounts/{twinId:long}/deposits", async (long twinId, HttpRequest request) =>
        {
            ClientBodies["POST /api/v1/accounts/deposits"] = await new StreamReader(request.Body).ReadToEndAsync();
            return request.Headers.Authorization.ToString() == "Bearer operator-key"
                ? Results.Json(new { twinId, balance = 70_000_000, spent = 0, earned = 0, currency = "USD" })
                : Results.Problem(title: "Forbidden", detail: "operator key required", statusCode: 403);
        });
    }

    private async Task<IResult> HeartbeatAsync(long nodeId, HttpRequest request)
    {
        if (nodeId != Node || request.Headers.Authorization.ToString() != $"Bearer {NodeKey}")
        {
            return Results.Problem(title: "Unauthorized", detail: "wrong node key", statusCode: 401);
        }

        using var reader = new StreamReader(request.Body);
        var body = await reader.ReadToEndAsync();
        RawBodies.Enqueue(body);
        var heartbeat = JsonSerializer.Deserialize<Heartbeat>(body, GridJson.Options)!;
        Heartbeats.Enqueue(heartbeat);
        var version = DesiredVersion;
        var unchanged = AnswersUnchangedBlindly || (AnswersUnchanged && heartbeat.DesiredVersion == version);
        if (unchanged)
        {
            Interlocked.Increment(ref _unchangedAnswers);
        }

        var answer = new HeartbeatResponse(NodeStatus.Up, false, unchanged ? [] : Desired) { DesiredVersion = version, DesiredUnchanged = unchanged, ReportsAcknowledged = AcknowledgesReports ? heartbeat.ReportsVersion : null };
        if (!AnswersAsALaterRelease)
        {
            return Results.Json(answer, GridJson.Options);
        }

        // Fields this agent's release does not know, at the top and inside each desired workload.
        var json = JsonSerializer.SerializeToNode(answer, GridJson.Options)!.AsObject();
        json["maintenanceWindow"] = new JsonObject { ["from"] = "2026-12-24T00:00:00Z", ["hours"] = 2 };
        foreach (var desired in json["desired"]!.AsArray())
        {
            desired!["priority"] = 20;
        }

        return Results.Text(json.ToJsonString(), "application/json");
    }
}
