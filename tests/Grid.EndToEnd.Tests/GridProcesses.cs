using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grid.Client;
using Grid.Testing;

namespace Grid.EndToEnd.Tests;

/// <summary>A real controller process and real <c>grid agent</c> processes on 127.0.0.1, always killed by PID.</summary>
public sealed class GridProcesses : IAsyncDisposable
{
    private readonly List<ChildProcess> _processes = [];
    private readonly List<string> _workDirs = [];
    private readonly string _root = Directory.CreateTempSubdirectory("grid-e2e-").FullName;
    private int _siloStarts;

    /// <summary>Client of the first silo.</summary>
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public string Root => _root;

    public Uri Api => Silos[0].Api;

    /// <summary>
    /// A folder under the test's root that the workloads can write to: agents running as root run them as the
    /// unprivileged workload user, which may not write anywhere else.
    /// </summary>
    public string SharedDirectory(string name)
    {
        var shared = Directory.CreateDirectory(Path.Combine(_root, name)).FullName;
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(shared, (UnixFileMode)0b111_111_111);
        }

        return shared;
    }

    public List<SiloProcess> Silos { get; } = [];

    /// <summary>Starts a controller silo (host process) and waits until it is ready.</summary>
    public async Task<SiloProcess> StartHostAsync(params string[] settings)
    {
        var silo = StartSilo(settings);
        await WaitReadyAsync(silo);
        return silo;
    }

    /// <summary>Starts a silo without waiting, so several can start (and race to create the schema) together.</summary>
    public SiloProcess StartSilo(params string[] settings) => StartSiloOf(BuiltApp.PathOf("Grid.Host", "Grid.Host.dll"), settings);

    /// <summary>Starts a silo of the host built at <paramref name="hostDll"/> (e.g. a previous release) without waiting.</summary>
    public SiloProcess StartSiloOf(string hostDll, params string[] settings)
    {
        var (api, siloPort, gatewayPort) = (new Uri($"http://127.0.0.1:{FreePort.Get()}"), FreePort.Get(), FreePort.Get());
        var process = LaunchSilo(hostDll, api, siloPort, gatewayPort, settings);
        var silo = new SiloProcess(api, process, new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(30) })
        {
            SiloPort = siloPort,
            GatewayPort = gatewayPort,
        };
        Silos.Add(silo);
        Http.BaseAddress ??= api;
        return silo;
    }

    /// <summary>
    /// Stops silo <paramref name="index"/> as an operator would (SIGTERM: it leaves the cluster and hands its grains
    /// over) and starts the host built at <paramref name="hostDll"/> in its place on the same ports, without waiting
    /// until it is ready. Clients of the silo keep working: its address stays the same.
    /// </summary>
    public async Task<SiloProcess> ReplaceSiloAsync(int index, string hostDll, TimeSpan stopTimeout, params string[] settings)
    {
        var old = Silos[index];
        await StopGracefullyAsync(old.Process, stopTimeout);
        var silo = old with { Process = LaunchSilo(hostDll, old.Api, old.SiloPort, old.GatewayPort, settings) };
        Silos[index] = silo;
        return silo;
    }

    /// <summary>Sends <paramref name="signal"/> (SIGTERM by default) to <paramref name="process"/> alone and waits until it has exited.</summary>
    public static async Task StopGracefullyAsync(ChildProcess process, TimeSpan timeout, string signal = "TERM")
    {
        var (code, output) = await ChildProcess.RunAsync("kill", ["-s", signal, process.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            TimeSpan.FromSeconds(10));
        Assert.True(code == 0 || process.HasExited, $"kill -s {signal} {process.Pid}: {output}");
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"process {process.Pid} still runs {timeout.TotalSeconds:0} s after SIG{signal}; its last output:\n{Tail(process.Output, 30)}");
        }
    }

    /// <summary>The last <paramref name="lines"/> lines of a process's output, for failure messages.</summary>
    public static string Tail(string output, int lines)
    {
        var all = output.Split('\n');
        return string.Join('\n', all[Math.Max(0, all.Length - lines)..]);
    }

    public static async Task WaitReadyAsync(SiloProcess silo)
    {
        try
        {
            // Generous: on a busy 2-core machine a joining silo's connectivity checks with the others (1 s probes) can fail for a minute.
            await Poll.UntilAsync(() => IsReadyAsync(silo), TimeSpan.FromSeconds(180), $"the silo at {silo.Api} is ready");
        }
        catch (TimeoutException exception)
        {
            // The silo's log is deleted with the test's folder: say in the failure why it never got ready.
            throw new TimeoutException(
                $"{exception.Message} (exited: {silo.Process.HasExited}); its last log lines:\n{Tail(silo.Process.Output, 60)}", exception);
        }
    }

    public static async Task<bool> IsReadyAsync(SiloProcess silo)
    {
        try
        {
            return (await silo.Http.GetAsync("/health/ready")).IsSuccessStatusCode;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public ChildProcess StartAgent(long nodeId, string nodeKey, string workDir, params string[] options) =>
        StartAgentVia(Api, nodeId, nodeKey, workDir, options);

    /// <summary>An agent that reaches the controller at <paramref name="api"/> (e.g. through a <see cref="TcpProxy"/>).</summary>
    public ChildProcess StartAgentVia(Uri api, long nodeId, string nodeKey, string workDir, params string[] options) =>
        StartAgentOf(BuiltApp.PathOf("Grid.Cli", "grid.dll"), api, nodeId, nodeKey, workDir, options);

    /// <summary>An agent of the <c>grid</c> command built at <paramref name="gridDll"/> (e.g. a previous release).</summary>
    public ChildProcess StartAgentOf(string gridDll, Uri api, long nodeId, string nodeKey, string workDir, params string[] options)
    {
        Directory.CreateDirectory(workDir);
        if (!_workDirs.Contains(workDir))
        {
            _workDirs.Add(workDir);
        }

        // SIGHUP hands an agent's workloads over (RollingUpgradeTests): it must reach the agent however the run was started.
        var (fileName, arguments) = ChildProcess.WithDefaultHangup("dotnet",
        [
            gridDll, "agent", "--api", api.ToString().TrimEnd('/'),
            "--node-id", nodeId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--node-key", nodeKey,
            "--workdir", workDir, "--allow-process-workloads", .. options,
        ]);
        return Track(ChildProcess.Start(fileName, arguments, logPath: Path.Combine(workDir, "agent.log")));
    }

    /// <summary>
    /// How long a test's call waits out a cluster that answers 503 or drops the connection (a silo joining, failing
    /// over or cut off from its database), on a busy 2-core machine.
    /// </summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    /// <summary>A call of the first silo's API answered <paramref name="expected"/>; see <see cref="SendAsync(HttpClient, HttpMethod, string, string?, object?, int, string?, bool)"/>.</summary>
    public Task<JsonNode> SendAsync(HttpMethod method, string path, string? key, object? body, int expected, bool whileNothingFits = false) =>
        SendAsync(Http, method, path, key, body, expected, whileNothingFits: whileNothingFits);

    /// <summary>
    /// Creates a reservation for a test's set-up under one <c>Idempotency-Key</c>, and with
    /// <paramref name="whileNothingFits"/> asks again while a 409 says no node fits yet (capacity views that have not
    /// seen the nodes up).
    /// </summary>
    public Task<JsonNode> ReserveAsync(string key, object body, string? idempotencyKey = null, bool whileNothingFits = false) =>
        SendAsync(Http, HttpMethod.Post, "/api/v1/reservations", key, body, 201, idempotencyKey, whileNothingFits);

    /// <summary>
    /// The one way tests call the API: asked again while the cluster answers 503 or the connection fails (unless
    /// a 503 is what the test expects), then asserted to answer <paramref name="expected"/>. A reservation's create
    /// goes under one <c>Idempotency-Key</c> (<paramref name="idempotencyKey"/>, else a fresh one), so asking again
    /// after an answer nobody got never places twice; when the grid gave that id up (a 409 "retired": the create
    /// failed half-way and its allocation was taken back) it is asked again under a new key. Other creates asked
    /// again may leave an unused twin, farm or (never beating, so down) node behind, which no test counts.
    /// </summary>
    public static async Task<JsonNode> SendAsync(
        HttpClient http, HttpMethod method, string path, string? key, object? body, int expected, string? idempotencyKey = null, bool whileNothingFits = false)
    {
        if (method == HttpMethod.Post && path == "/api/v1/reservations")
        {
            idempotencyKey ??= Guid.NewGuid().ToString("N");
        }

        var (status, text) = (0, "no answer");
        try
        {
            await Poll.UntilAsync(async () =>
            {
                using var request = new HttpRequestMessage(method, path);
                if (key is not null)
                {
                    request.Headers.Authorization = new("Bearer", key);
                }

                if (idempotencyKey is not null)
                {
                    request.Headers.Add("Idempotency-Key", idempotencyKey);
                }

                if (body is not null)
                {
                    request.Content = JsonContent.Create(body, options: GridJson.Api);
                }

                try
                {
                    using var response = await http.SendAsync(request);
                    (status, text) = ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    (status, text) = (0, exception.Message);
                    return false;
                }

                if (status == 409 && idempotencyKey is not null && text.Contains("retired", StringComparison.Ordinal))
                {
                    idempotencyKey = Guid.NewGuid().ToString("N");
                    return false;
                }

                return status == expected || !((status == 503 && expected != 503) || (status == 409 && whileNothingFits));
            }, Patience, $"{method} {path} to answer {expected}");
        }
        catch (TimeoutException exception)
        {
            Assert.Fail($"{exception.Message} The last answer: {status} {text}");
        }

        Assert.True(status == expected, $"{method} {path}: {status} {text}");
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
            await AgentWorkloads.KillRecordedAsync(workDir);
        }

        Http.Dispose();
        foreach (var silo in Silos)
        {
            silo.Http.Dispose();
        }

        if (Environment.GetEnvironmentVariable("GRID_TEST_KEEP_LOGS") == "1")
        {
            Console.WriteLine($"[e2e] logs kept in {_root}");
            return;
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A process that just died may still hold a log file open.
        }
    }

    public static void KillQuietly(int pid) => AgentWorkloads.KillQuietly(pid);

    private ChildProcess LaunchSilo(string hostDll, Uri api, int siloPort, int gatewayPort, string[] settings) =>
        Track(ChildProcess.Start("dotnet",
        [
            hostDll, "--urls", api.ToString().TrimEnd('/'),
            $"--Grid:Cluster:SiloPort={siloPort}", $"--Grid:Cluster:GatewayPort={gatewayPort}", "--Grid:Demo:Nodes=0",
            .. settings,
        ], logPath: Path.Combine(_root, $"silo{Interlocked.Increment(ref _siloStarts) - 1}.log")));

    private ChildProcess Track(ChildProcess process)
    {
        _processes.Add(process);
        return process;
    }
}

/// <summary>One controller silo process and a client of its HTTP API.</summary>
public sealed record SiloProcess(Uri Api, ChildProcess Process, HttpClient Http)
{
    /// <summary>The silo-to-silo port, kept when the silo is replaced.</summary>
    public int SiloPort { get; init; }

    /// <summary>The Orleans gateway port, kept when the silo is replaced.</summary>
    public int GatewayPort { get; init; }
}
