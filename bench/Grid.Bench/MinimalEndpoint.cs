using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Grid.Bench;

/// <summary>
/// The ceiling of the HTTP cases: a minimal API in this process on the same Kestrel setup as <see cref="BenchHost"/>
/// (loopback, default limits, warnings-only logging), answering 200 with a small JSON body and nothing else: no
/// authentication, rate limiter, grain call or model binding. Driven by the same client, with the same requests
/// and concurrency as the heartbeats, it measures what HTTP alone costs on this machine; heartbeats and HTTP
/// placement are reported as ratios to it, measured in windows interleaved with theirs
/// (<see cref="Measure.InterleaveAsync"/>).
/// </summary>
public sealed class MinimalEndpoint : IAsyncDisposable
{
    /// <summary>The case's name in the report.</summary>
    public const string Case = "minimal endpoint";

    private static readonly byte[] Payload = """{"uptime":100,"workloads":[]}"""u8.ToArray();

    private readonly WebApplication _app;
    private readonly HttpClient _client;
    private readonly byte[] _payload;

    private MinimalEndpoint(WebApplication app, HttpClient client, byte[] payload) => (_app, _client, _payload) = (app, client, payload);

    /// <summary>
    /// Starts the endpoint. With a <paramref name="body"/>, every request carries it and the endpoint reads it to its end
    /// (and nothing more): what HTTP costs for a request that size.
    /// </summary>
    public static async Task<MinimalEndpoint> StartAsync(byte[]? body = null)
    {
        var builder = WebApplication.CreateBuilder(["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning"]);
        var app = builder.Build();

        // The heartbeat's route and answer shape: a node id from the path, a few fields back.
        app.MapPost("/api/v1/nodes/{nodeId:long}/heartbeat", async (long nodeId, HttpRequest request) =>
        {
            if (body is not null)
            {
                await request.Body.CopyToAsync(Stream.Null);
            }

            return TypedResults.Ok(new Answer(nodeId, "up", 5_000));
        });
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return new MinimalEndpoint(app, BenchHost.NewClient(address), body ?? Payload);
    }

    /// <summary>The rows of a ceiling measured in the <paramref name="scenario"/> section.</summary>
    public static void Report(string scenario, string name, Measure.Outcome ceiling, List<BenchRow> rows)
    {
        rows.Add(new BenchRow(scenario, name, "requests/s (HTTP)", ceiling.PerSecond, "1/s"));
        rows.Add(new BenchRow(scenario, name, "p99 latency", ceiling.P99Ms, "ms"));
    }

    /// <summary>
    /// The ratio of <paramref name="outcome"/> to the <paramref name="ceiling"/> interleaved with it (the goal's row),
    /// and its lowest and highest over the run's turns: a turn is under a second here, and this machine's speed moves
    /// from one to the next, so the spread says how far a single run's ratio can be trusted.
    /// </summary>
    public static void ReportRatio(string scenario, string name, Measure.Outcome outcome, Measure.Outcome ceiling, List<BenchRow> rows)
    {
        var ratio = outcome.PerSecond / ceiling.PerSecond;
        var (lowest, highest) = Measure.TurnRatios(outcome, ceiling);
        rows.Add(new BenchRow(scenario, name, "ratio to minimal endpoint", ratio, "×", "≥ 0.5 ×", ratio >= 0.5));
        rows.Add(new BenchRow(scenario, name, "ratio to minimal endpoint, lowest turn", lowest, "×"));
        rows.Add(new BenchRow(scenario, name, "ratio to minimal endpoint, highest turn", highest, "×"));
    }

    /// <summary>One request (the operation a measurement runs); false for an answer other than 200.</summary>
    public async Task<bool> PostAsync(int worker, long n)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/nodes/{worker + 1}/heartbeat")
        {
            Content = new ByteArrayContent(_payload) { Headers = { ContentType = new("application/json") } },
        };
        request.Headers.Authorization = new("Bearer", "gn_1_minimal");
        using var response = await _client.SendAsync(request);
        return response.IsSuccessStatusCode;
    }

    /// <summary>Warms the endpoint up for <paramref name="duration"/> (its code reaches its optimized tier).</summary>
    public Task WarmUpAsync(TimeSpan duration, int concurrency) =>
        Measure.RunForAsync(duration, concurrency, PostAsync, new Progress($"{Case}, {_payload.Length:N0}-byte body: warm-up", 1));

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>A small JSON answer.</summary>
    private sealed record Answer(long NodeId, string Status, long HeartbeatIntervalMs);
}
