using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grid.Client;

namespace Grid.Host.Tests;

/// <summary>A thin client over the HTTP API as an outside user sees it: JSON in, status and JSON out.</summary>
public sealed class GridClient(HttpClient http)
{
    public const long GiB = 1L << 30;

    /// <summary>The API's JSON as the host writes it (nulls included, as an outside client may send them).</summary>
    public static readonly JsonSerializerOptions Json = GridJson.Api;

    public async Task<(long TwinId, string ApiKey)> CreateTwinAsync(string name = "tenant")
    {
        var json = await SendOkAsync(HttpMethod.Post, "/api/v1/twins", null, new { name }, HttpStatusCode.Created);
        return (json["twinId"]!.GetValue<long>(), json["apiKey"]!.GetValue<string>());
    }

    public async Task<long> CreateFarmAsync(string key, object? publicIps = null, double cpuOvercommit = 1.0, string name = "farm")
    {
        var json = await SendOkAsync(HttpMethod.Post, "/api/v1/farms", key,
            new { name, publicIps = publicIps ?? Array.Empty<object>(), cpuOvercommit }, HttpStatusCode.Created);
        return json["farmId"]!.GetValue<long>();
    }

    public async Task<(long NodeId, string NodeKey)> RegisterNodeAsync(
        string key, long farmId, long cru = 8, long mru = 16 * GiB, long sru = 512 * GiB, string country = "Belgium", string certification = "diy")
    {
        var json = await SendOkAsync(HttpMethod.Post, "/api/v1/nodes", key, new
        {
            farmId,
            resources = new { cru, mru, sru, hru = 0 },
            location = new { country, city = "Ghent" },
            certification,
        }, HttpStatusCode.Created);
        return (json["nodeId"]!.GetValue<long>(), json["nodeKey"]!.GetValue<string>());
    }

    /// <summary>Registers a node and heartbeats it once so it is up.</summary>
    public async Task<(long NodeId, string NodeKey)> UpNodeAsync(string key, long farmId, long cru = 8, long mru = 16 * GiB, string country = "Belgium")
    {
        var node = await RegisterNodeAsync(key, farmId, cru, mru, country: country);
        await HeartbeatAsync(node.NodeId, node.NodeKey);
        return node;
    }

    public Task<JsonNode> HeartbeatAsync(long nodeId, string nodeKey, object? workloads = null) =>
        SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey,
            new { uptime = 10, workloads = workloads ?? Array.Empty<object>() }, HttpStatusCode.OK);

    public Task<(HttpStatusCode Status, JsonNode? Body)> ReserveAsync(string key, object body, string? idempotencyKey = null) =>
        SendAsync(HttpMethod.Post, "/api/v1/reservations", key, body,
            idempotencyKey is null ? null : new Dictionary<string, string> { ["Idempotency-Key"] = idempotencyKey });

    public Task<JsonNode> GetAsync(string path, string key) => SendOkAsync(HttpMethod.Get, path, key, null, HttpStatusCode.OK);

    public async Task<JsonNode> SendOkAsync(HttpMethod method, string path, string? key, object? body, HttpStatusCode expected)
    {
        var (status, json) = await SendAsync(method, path, key, body);
        Assert.True(status == expected, $"{method} {path}: expected {expected}, got {status}: {json?.ToJsonString()}");
        return json!;
    }

    public async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(
        HttpMethod method, string path, string? key, object? body, IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        if (body is string raw)
        {
            request.Content = new StringContent(raw, System.Text.Encoding.UTF8, "application/json");
        }
        else if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: Json);
        }

        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var isJson = response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) ?? true;
        return (response.StatusCode, string.IsNullOrEmpty(text) || !isJson ? null : JsonNode.Parse(text));
    }
}
