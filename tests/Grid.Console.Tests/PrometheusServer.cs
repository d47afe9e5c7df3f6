using System.Globalization;
using System.Text.Json.Nodes;
using Grid.Testing;

namespace Grid.Console.Tests;

/// <summary>
/// A real Prometheus (the Debian <c>prometheus</c> package) started by the test with its own port and data folder,
/// scraping the given targets every second; killed by PID and its folder deleted on dispose.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly string _root;

    private PrometheusServer(ChildProcess process, string root, Uri api)
    {
        _process = process;
        _root = root;
        Api = api;
    }

    public Uri Api { get; }

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public string Output => _process.Output;

    public static async Task<PrometheusServer> StartAsync(string job, params Uri[] targets)
    {
        var binary = Environment.GetEnvironmentVariable("GRID_PROMETHEUS") is { Length: > 0 } configured ? configured
            : File.Exists("/usr/bin/prometheus") ? "/usr/bin/prometheus"
            : throw new InvalidOperationException("Prometheus is missing: apt-get install prometheus (or set GRID_PROMETHEUS).");
        var root = Directory.CreateTempSubdirectory("grid-prometheus-").FullName;
        var config = Path.Combine(root, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: {job}
                static_configs:
                  - targets: [{string.Join(", ", targets.Select(t => $"'{t.Authority}'"))}]
            """);
        var port = FreePort.Get();
        var process = ChildProcess.Start(binary,
        [
            $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(root, "data")}",
            $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        ]);
        var server = new PrometheusServer(process, root, new Uri($"http://127.0.0.1:{port}"));
        try
        {
            await Poll.UntilAsync(async () => await server.ScalarAsync($"sum(up{{job=\"{job}\"}})") == targets.Length,
                TimeSpan.FromSeconds(60), $"Prometheus scrapes {targets.Length} target(s) with up == 1");
            return server;
        }
        catch (Exception exception)
        {
            var output = process.Output;
            await server.DisposeAsync();
            throw new InvalidOperationException($"Prometheus did not come up:{Environment.NewLine}{output}", exception);
        }
    }

    /// <summary>The instant-query result vector (empty when the expression has no data).</summary>
    public async Task<JsonArray> QueryAsync(string promql)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri(Api, $"/api/v1/query?query={Uri.EscapeDataString(promql)}"));
            if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
            {
                return []; // still starting
            }

            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            if (body["status"]?.GetValue<string>() != "success")
            {
                throw new InvalidOperationException($"PromQL {promql} failed: {body.ToJsonString()}");
            }

            var result = body["data"]!["result"]!;
            return result is JsonArray vector ? vector : [new JsonObject { ["value"] = result.DeepClone() }];
        }
        catch (HttpRequestException)
        {
            return [];
        }
    }

    /// <summary>The value of a single-series expression, or null without data.</summary>
    public async Task<double?> ScalarAsync(string promql)
    {
        var result = await QueryAsync(promql);
        return result.Count == 1 ? Value(result[0]!) : null;
    }

    public static double Value(JsonNode sample) =>
        double.Parse(sample["value"]![1]!.GetValue<string>(), NumberStyles.Float, CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by the dying process; /tmp is cleaned eventually.
        }
    }
}
