using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Grid.Bench;

/// <summary>
/// The ceiling of the HTTP cases: a minimal API in this process on the same Kestrel setup as <see cref="BenchHost"/>
/// (loopback, default limits, warnings-only logging), answering 200 with a small JSON body and nothing else: no
/// authentication, rate limiter, grain call or model binding. Driven by the same client, with the same requests
/// and concurrency as the heartbeats, it measures what HTTP alone costs on this machine; heartbeats and HTTP
/// placement are reported as ratios to it.
/// </summary>
public static class MinimalEndpoint
{
    /// <summary>The case's name in the report.</summary>
    public const string Case = "minimal endpoint";

    private static readonly byte[] Payload = """{"uptime":100,"workloads":[]}"""u8.ToArray();

    /// <summary>
    /// Requests per second (and latencies) of the minimal endpoint, after a warm-up of a fifth of the run. With a
    /// <paramref name="body"/>, every request carries it and the endpoint reads it to its end (and nothing more): what
    /// HTTP costs for a request that size.
    /// </summary>
    public static async Task<Measure.Outcome> MeasureAsync(BenchScale scale, byte[]? body = null)
    {
        var payload = body ?? Payload;
        var builder = WebApplication.CreateBuilder(["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning"]);
        await using var app = builder.Build();
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
        using var client = BenchHost.NewClient(address);
        try
        {
            var concurrency = scale.Concurrency;
            var what = body is null ? Case : $"{Case}, {body.Length:N0}-byte body";
            await Measure.RunForAsync(scale.HeartbeatDuration / 5, concurrency, PostAsync, new Progress($"{what}: warm-up", 1));
            var outcome = await Measure.RunForAsync(scale.HeartbeatDuration, concurrency, PostAsync,
                new Progress($"{what}: {scale.HeartbeatDuration.TotalSeconds:0} s of requests", 1));
            return outcome.Failures > 0 ? throw new BenchFailedException($"{outcome.Failures} requests to the minimal endpoint failed") : outcome;
        }
        finally
        {
            await app.StopAsync();
        }

        async Task<bool> PostAsync(int worker, long n)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/nodes/{worker + 1}/heartbeat")
            {
                Content = new ByteArrayContent(payload) { Headers = { ContentType = new("application/json") } },
            };
            request.Headers.Authorization = new("Bearer", "gn_1_minimal");
            using var response = await client.SendAsync(request);
            return response.IsSuccessStatusCode;
        }
    }

    /// <summary>The rows of the case, in the heartbeat scenario.</summary>
    public static void Report(Measure.Outcome ceiling, BenchScale scale, List<BenchRow> rows)
    {
        var scenario = $"{Case}, {scale.Concurrency} clients";
        rows.Add(new BenchRow("heartbeat", scenario, "requests/s (HTTP)", ceiling.PerSecond, "1/s"));
        rows.Add(new BenchRow("heartbeat", scenario, "p99 latency", ceiling.P99Ms, "ms"));
    }

    /// <summary>A small JSON answer.</summary>
    private sealed record Answer(long NodeId, string Status, long HeartbeatIntervalMs);
}
