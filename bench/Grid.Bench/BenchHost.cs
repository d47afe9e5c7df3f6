using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grid.Host.Hosting;
using Grid.Scheduling;
using Grid.Testing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Grid.Bench;

/// <summary>The real host (Kestrel + silo, in memory) in this process, driven over HTTP like outside clients.</summary>
public sealed class BenchHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BenchHost(WebApplication app, Uri address)
    {
        _app = app;
        Client = NewClient(address);
    }

    /// <summary>The client every HTTP case uses (the grid's and the <see cref="MinimalEndpoint"/>'s alike).</summary>
    public static HttpClient NewClient(Uri address) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = 512, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = address,
            Timeout = TimeSpan.FromSeconds(60),
        };

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public int ViewCount => _app.Services.GetRequiredService<CapacityView>().Count;

    public static async Task<BenchHost> StartAsync(params string[] settings)
    {
        var builder = WebApplication.CreateBuilder(
        [
            "--urls", "http://127.0.0.1:0", $"--Grid:Cluster:SiloPort={FreePort.Get()}", $"--Grid:Cluster:GatewayPort={FreePort.Get()}",
            "--Grid:Demo:Nodes=0", "--Grid:Health:HeartbeatTimeout=01:00:00", "--Logging:LogLevel:Default=Warning", .. settings,
        ]);
        builder.AddGridHost();
        var app = builder.Build();
        app.MapGridEndpoints();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new BenchHost(app, new Uri(address));
    }

    public async Task<string> CreateTwinAsync() =>
        (await SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "bench" }))["apiKey"]!.GetValue<string>();

    public async Task<long> CreateFarmAsync(string key) =>
        (await SendAsync(HttpMethod.Post, "/api/v1/farms", key, new { name = "bench" }))["farmId"]!.GetValue<long>();

    /// <summary>Registers a node (with <paramref name="publicKey"/>: its Ed25519 key, as an agent's) and heartbeats it once.</summary>
    public async Task<(long NodeId, string NodeKey)> RegisterUpNodeAsync(string key, long farm, Capacity size, string? publicKey = null)
    {
        var node = await SendAsync(HttpMethod.Post, "/api/v1/nodes", key,
            new { farmId = farm, resources = new { cru = size.Cru, mru = size.Mru, sru = size.Sru, hru = size.Hru }, location = new { country = "Belgium" }, publicKey });
        var (nodeId, nodeKey) = (node["nodeId"]!.GetValue<long>(), node["nodeKey"]!.GetValue<string>());
        await SendAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey, new { uptime = 1 });
        return (nodeId, nodeKey);
    }

    /// <summary>
    /// One API call; a failure status fails the benchmark. A 429 (the caller's rate limit, which stays on: a
    /// scenario's setup may send more than a twin's burst) is sent again after its Retry-After.
    /// </summary>
    public async Task<JsonNode> SendAsync(HttpMethod method, string path, string? key, object? body)
    {
        while (true)
        {
            using var request = new HttpRequestMessage(method, path);
            if (key is not null)
            {
                request.Headers.Authorization = new("Bearer", key);
            }

            if (body is not null)
            {
                request.Content = JsonContent.Create(body);
            }

            using var response = await Client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == System.Net.HttpStatusCode.TooManyRequests)
            {
                await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                continue;
            }

            return response.IsSuccessStatusCode
                ? JsonNode.Parse(text)!
                : throw new BenchFailedException($"{method} {path}: {(int)response.StatusCode} {text}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
