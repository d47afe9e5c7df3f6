using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grid.Client;
using Grid.Testing;

namespace Grid.Bench.Scenarios;

/// <summary>
/// A real controller process (in memory) and real <c>grid agent</c> processes on 127.0.0.1 for the scenarios that
/// measure end to end: one twin and farm, nodes added with their agents. Disposing kills every process and what
/// the agents left running, and deletes the folder (unless <c>GRID_TEST_KEEP_LOGS=1</c>).
/// </summary>
public sealed class LiveGrid : IAsyncDisposable
{
    private readonly string _name;
    private readonly List<ChildProcess> _processes = [];
    private readonly List<string> _workDirs = [];

    private LiveGrid(string name, string root, Uri api)
    {
        _name = name;
        Root = root;
        Http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Folder of the controller's and agents' logs and work directories.</summary>
    public string Root { get; }

    /// <summary>Client of the controller.</summary>
    public HttpClient Http { get; }

    /// <summary>The twin's API key.</summary>
    public string Key { get; private set; } = "";

    /// <summary>The twin's farm.</summary>
    public long FarmId { get; private set; }

    /// <summary>Starts the controller with <paramref name="settings"/> and creates a twin and a farm.</summary>
    public static async Task<LiveGrid> StartAsync(string name, params string[] settings)
    {
        var root = Directory.CreateTempSubdirectory($"grid-bench-{name}-").FullName;
        var api = new Uri($"http://127.0.0.1:{FreePort.Get()}");
        var grid = new LiveGrid(name, root, api);
        grid._processes.Add(ChildProcess.Start("dotnet",
        [
            BuiltApp.PathOf("Grid.Host", "Grid.Host.dll"), "--urls", api.ToString().TrimEnd('/'),
            $"--Grid:Cluster:SiloPort={FreePort.Get()}", $"--Grid:Cluster:GatewayPort={FreePort.Get()}", "--Grid:Demo:Nodes=0",
            "--Logging:LogLevel:Default=Warning", .. settings,
        ], logPath: Path.Combine(root, "controller.log")));
        await UntilAsync(async () => (await grid.Http.GetAsync("/health/ready")).IsSuccessStatusCode, "the controller is ready");
        grid.Key = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name }))["apiKey"]!.GetValue<string>();
        grid.FarmId = (await grid.SendAsync(HttpMethod.Post, "/api/v1/farms", grid.Key, new { name = $"{name}-farm" }))["farmId"]!.GetValue<long>();
        return grid;
    }

    /// <summary>Registers a node of <paramref name="resources"/> and starts its agent with <paramref name="options"/>; waits until it is up.</summary>
    public async Task<(long NodeId, ChildProcess Agent, string WorkDir)> AddNodeAsync(object resources, params string[] options)
    {
        var node = await SendAsync(HttpMethod.Post, "/api/v1/nodes", Key, new { farmId = FarmId, resources, location = new { country = "Belgium" } });
        var (nodeId, nodeKey) = (node["nodeId"]!.GetValue<long>(), node["nodeKey"]!.GetValue<string>());
        var workDir = Path.Combine(Root, $"agent{_workDirs.Count}");
        Directory.CreateDirectory(workDir);
        _workDirs.Add(workDir);
        var agent = ChildProcess.Start("dotnet",
        [
            BuiltApp.PathOf("Grid.Cli", "grid.dll"), "agent", "--api", Http.BaseAddress!.ToString().TrimEnd('/'),
            "--node-id", nodeId.ToString(CultureInfo.InvariantCulture), "--node-key", nodeKey, "--workdir", workDir, .. options,
        ], logPath: Path.Combine(workDir, "agent.log"));
        _processes.Add(agent);
        await UntilAsync(async () => (await SendAsync(HttpMethod.Get, $"/api/v1/nodes/{nodeId}", Key, null))["status"]!.GetValue<string>() == "up",
            $"the agent of node {nodeId} heartbeats");
        return (nodeId, agent, workDir);
    }

    /// <summary>The node a workload runs on, when it is <c>running</c>.</summary>
    public async Task<long?> RunningOnAsync(long workloadId)
    {
        var workload = await SendAsync(HttpMethod.Get, $"/api/v1/workloads/{workloadId}", Key, null);
        return workload["state"]!.GetValue<string>() == "running" ? workload["nodeId"]?.GetValue<long>() : null;
    }

    /// <summary>One API call; a failure status fails the benchmark.</summary>
    public async Task<JsonNode> SendAsync(HttpMethod method, string path, string? key, object? body)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Authorization = new("Bearer", key);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: GridJson.Api);
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode
            ? JsonNode.Parse(string.IsNullOrEmpty(text) ? "{}" : text)!
            : throw new BenchFailedException($"{method} {path}: {(int)response.StatusCode} {text}");
    }

    /// <summary>Waits until <paramref name="condition"/> holds, polling every <paramref name="every"/>; gives up after <paramref name="limit"/> (60 s).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? every = null, TimeSpan? limit = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            if (deadline.Elapsed > (limit ?? TimeSpan.FromSeconds(60)))
            {
                throw new BenchFailedException($"gave up after {(limit ?? TimeSpan.FromSeconds(60)).TotalSeconds:0} s waiting until {what}");
            }

            await Task.Delay(every ?? TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>The <paramref name="p"/> quantile of <paramref name="values"/> (nearest rank).</summary>
    public static double Percentile(IReadOnlyCollection<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Max(0, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        foreach (var workDir in _workDirs)
        {
            await AgentWorkloads.KillRecordedAsync(workDir);
        }

        Http.Dispose();
        if (Environment.GetEnvironmentVariable("GRID_TEST_KEEP_LOGS") == "1")
        {
            Console.WriteLine($"{_name}: logs kept in {Root}");
            return;
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A process that just died may still hold a log file open.
        }
        catch (UnauthorizedAccessException)
        {
            // A workload's folder owned by another user, or a mount still busy: left to the temp cleaner.
        }
    }
}
