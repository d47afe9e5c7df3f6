using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grid.Testing;

namespace Grid.EndToEnd.Tests;

/// <summary>A real controller process and real <c>grid agent</c> processes on 127.0.0.1, always killed by PID.</summary>
public sealed class GridProcesses : IAsyncDisposable
{
    private readonly List<ChildProcess> _processes = [];
    private readonly List<string> _workDirs = [];
    private readonly string _root = Directory.CreateTempSubdirectory("grid-e2e-").FullName;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public string Root => _root;

    public Uri Api { get; private set; } = null!;

    public ChildProcess Host { get; private set; } = null!;

    public async Task StartHostAsync(params string[] settings)
    {
        var port = FreePort.Get();
        Api = new Uri($"http://127.0.0.1:{port}");
        Http.BaseAddress = Api;
        Host = Track(ChildProcess.Start("dotnet",
        [
            BuiltApp.PathOf("Grid.Host", "Grid.Host.dll"), "--urls", Api.ToString().TrimEnd('/'),
            $"--Grid:Cluster:SiloPort={FreePort.Get()}", $"--Grid:Cluster:GatewayPort={FreePort.Get()}", "--Grid:Demo:Nodes=0",
            .. settings,
        ], logPath: Path.Combine(_root, "host.log")));
        await Poll.UntilAsync(async () =>
        {
            try
            {
                return (await Http.GetAsync("/health/ready")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "the controller is ready");
    }

    public ChildProcess StartAgent(long nodeId, string nodeKey, string workDir, params string[] options)
    {
        Directory.CreateDirectory(workDir);
        if (!_workDirs.Contains(workDir))
        {
            _workDirs.Add(workDir);
        }

        return Track(ChildProcess.Start("dotnet",
        [
            BuiltApp.PathOf("Grid.Cli", "grid.dll"), "agent", "--api", Api.ToString().TrimEnd('/'),
            "--node-id", nodeId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--node-key", nodeKey,
            "--workdir", workDir, "--allow-process-workloads", .. options,
        ], logPath: Path.Combine(workDir, "agent.log")));
    }

    public async Task<JsonNode> SendAsync(HttpMethod method, string path, string? key, object? body, int expected)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Authorization = new("Bearer", key);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: new JsonSerializerOptions(JsonSerializerDefaults.Web));
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {text}");
        return string.IsNullOrEmpty(text) ? new JsonObject() : JsonNode.Parse(text)!;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        // Workloads live in their own process groups and outlive a killed agent: stop every one the agents recorded.
        foreach (var workDir in _workDirs)
        {
            var pids = Path.Combine(workDir, "pids.json");
            if (File.Exists(pids))
            {
                foreach (var entry in JsonNode.Parse(await File.ReadAllTextAsync(pids))!.AsArray())
                {
                    KillQuietly(entry!["pid"]!.GetValue<int>());
                }
            }
        }

        Http.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A process that just died may still hold a log file open.
        }
    }

    public static void KillQuietly(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill(entireProcessTree: true);
        }
        catch (Exception exception) when (exception is ArgumentException or InvalidOperationException)
        {
            // Already gone.
        }
    }

    private ChildProcess Track(ChildProcess process)
    {
        _processes.Add(process);
        return process;
    }
}
