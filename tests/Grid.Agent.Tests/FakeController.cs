using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using Grid.Agent;
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

    private FakeController(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    /// <summary>The desired workloads the next heartbeat answer carries.</summary>
    public ImmutableArray<WorkloadAssignment> Desired { get; set; } = [];

    public ConcurrentQueue<Heartbeat> Heartbeats { get; } = new();

    public ConcurrentQueue<string> RawBodies { get; } = new();

    public static async Task<FakeController> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var controller = new FakeController(app);
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
    }

    private async Task<IResult> HeartbeatAsync(long nodeId, HttpRequest request)
    {
        if (nodeId != NodeId || request.Headers.Authorization.ToString() != $"Bearer {NodeKey}")
        {
            return Results.Problem(title: "Unauthorized", detail: "wrong node key", statusCode: 401);
        }

        using var reader = new StreamReader(request.Body);
        var body = await reader.ReadToEndAsync();
        RawBodies.Enqueue(body);
        Heartbeats.Enqueue(JsonSerializer.Deserialize<Heartbeat>(body, GridJson.Options)!);
        return Results.Json(new HeartbeatResponse(NodeStatus.Up, false, Desired), GridJson.Options);
    }
}
