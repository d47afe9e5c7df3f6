using System.Collections.Immutable;
using Grid.Testing;
using Grid.Testing.Containers;
using Xunit.Abstractions;

namespace Grid.Agent.Tests.Containers;

/// <summary>
/// Container workloads through a whole agent against a real HTTP controller endpoint: states and reasons, digest,
/// endpoints and logs in the reports, features and address in the heartbeats. Real registry, images and runc.
/// </summary>
public sealed class ContainerAgentTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(30);

    // A node id of its own: the agent's adoption removes containers and pod namespaces of its node it does not know.
    private readonly long _nodeId = Random.Shared.Next(100_000, 499_999);
    private readonly TestWorkDir _dir = new();
    private readonly List<(NodeAgent Agent, CancellationTokenSource Stop, Task Run)> _agents = [];
    private FakeController _controller = null!;
    private LocalRegistry _registry = null!;

    public async Task InitializeAsync()
    {
        _controller = await FakeController.StartAsync(_nodeId);
        _registry = await LocalRegistry.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var (agent, stop, run) in _agents)
        {
            await stop.CancelAsync();
            await run.WaitAsync(TimeSpan.FromSeconds(30));
            await agent.DisposeAsync();
            stop.Dispose();
        }

        await _controller.DisposeAsync();
        await _registry.DisposeAsync();
        await ContainerHost.CleanUpNodeAsync(_nodeId, _dir.Path);
        _dir.Dispose();
    }

    [Fact]
    public async Task AContainerIsReportedPullingThenRunningWithItsDigestEndpointAndLogs()
    {
        var web = await _registry.PushAsync(await TestImages.HttpdAsync(), "shop/web");
        var shell = await _registry.PushAsync(await TestImages.ShellAsync(), "shop/shell");
        _controller.Desired =
        [
            Container(1, web, ContainerRestart.OnFailure, [], [new ContainerPort("http", TestImages.HttpdPort)]),
            Container(2, shell, ContainerRestart.OnFailure, ["echo line-one; echo line-two >&2; exit 0"], []),
        ];
        Start(NewAgent());

        await Poll.UntilAsync(() => _controller.LastReportOf(1, 1)?.State == WorkloadState.Running, Soon, "the web container is reported running");
        var states = _controller.ReportsOf(1, 1).Select(r => r.State).Distinct().ToList();
        output.WriteLine(string.Join(" → ", states));
        Assert.Equal(WorkloadState.Pulling, states[0]);
        var running = _controller.LastReportOf(1, 1)!;
        Assert.Equal((await TestImages.HttpdAsync()).Digest, running.Digest);
        var endpoint = Assert.Single(running.Endpoints!.Value);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Poll.UntilAsync(
            async () => await http.GetStringAsync($"http://{endpoint.Address}:{endpoint.Port}/").ContinueWith(t => t.IsCompletedSuccessfully && t.Result == TestImages.Greeting),
            Soon, "httpd answers through the reported endpoint");

        await Poll.UntilAsync(() => _controller.LastReportOf(2, 1)?.State == WorkloadState.Exited, Soon, "the shell container exits with 0 and is not restarted");
        await Poll.UntilAsync(
            () => string.Concat(_controller.ReportsOf(2, 1).Select(r => r.Logs)).Contains("line-two", StringComparison.Ordinal), Soon, "its output reaches the controller");
        var logs = string.Concat(_controller.ReportsOf(2, 1).Select(r => r.Logs));
        Assert.Equal(1, logs.Split("line-one").Length - 1);
        Assert.Equal(0, _controller.LastReportOf(2, 1)!.Restarts);

        var heartbeat = _controller.Heartbeats.Last();
        Assert.Contains(NodeFeatures.Container, heartbeat.Features!.Value);
        Assert.Equal("127.0.0.1", heartbeat.Address);

        _controller.Desired = [];
        await Poll.UntilAsync(() => _controller.LastReportOf(1, 1)?.State == WorkloadState.Stopped, Soon, "the web container is stopped");
        Assert.DoesNotContain(await Tools.RuncListAsync(), id => id.StartsWith(AgentOptions.NamePrefixOf(_nodeId, _dir.Path), StringComparison.Ordinal));
    }

    [Fact]
    public async Task AContainerOnAnAgentWithoutContainersFailsWithTheMissingFeature()
    {
        _controller.Desired = [Container(3, $"{_registry.Host}/shop/web@sha256:{new string('a', 64)}", ContainerRestart.Always, [], [])];
        Start(NewAgent(containers: false));

        await Poll.UntilAsync(() => _controller.LastReportOf(3, 1)?.State == WorkloadState.Failed, Soon, "the container is reported failed");
        var report = _controller.LastReportOf(3, 1)!;
        Assert.Equal(WorkloadReasons.FeatureMissing, report.Reason);
        Assert.Contains("--no-containers", report.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(NodeFeatures.Container, _controller.Heartbeats.Last().Features!.Value);
    }

    [Fact]
    public async Task AfterANodeRebootEveryContainerComesBackWithItsVolumeDataAndPortOrSaysWhyNot()
    {
        const long Reservation = 150;
        var shell = await _registry.PushAsync(await TestImages.ShellAsync(), "shop/shell");
        var gone = await LocalRegistry.StartAsync();
        var goneDisposed = false;
        try
        {
            var lost = await gone.PushAsync(await TestImages.MemoryHogAsync(), "shop/lost");

            // The web container keeps a note and counts its starts on the volume, and serves the volume on its port.
            const string Serve = "[ -f /data/note ] || echo written-before-the-reboot > /data/note; echo start >> /data/starts; exec httpd -f -p 8080 -h /data";
            _controller.Desired =
            [
                new WorkloadAssignment(50, Reservation, 1, new WorkloadSpec("data", WorkloadType.Volume, new Capacity(0, 0, 16L << 20, 0), null, Volume: new VolumeSpec(16L << 20))),
                Container(51, shell, ContainerRestart.OnFailure, [Serve], [new ContainerPort("http", TestImages.HttpdPort)], [new ContainerMount("data", "/data", false)], Reservation),
                Container(52, lost, ContainerRestart.Always, ["sleep 300"], [], [], Reservation),
            ];
            var first = NewAgent();
            Start(first);
            await Poll.UntilAsync(() => _controller.LastReportOf(51, 1)?.State == WorkloadState.Running && _controller.LastReportOf(52, 1)?.State == WorkloadState.Running,
                Soon, "both containers run before the reboot");
            Assert.Equal("written-before-the-reboot", await GetAsync(_controller.LastReportOf(51, 1)!, "note"));

            // The agent dies, then the machine "reboots": what a reboot loses goes (see RebootAsync); its work directory
            // stays, except the lost container's image, and that image's registry is gone for good.
            await first.DisposeAsync();
            await RebootAsync();
            Directory.Delete(Path.Combine(_dir.Path, "images", (await TestImages.MemoryHogAsync()).Digest[7..]), recursive: true);
            await gone.DisposeAsync();
            goneDisposed = true;
            var beatsBefore = _controller.Heartbeats.Count;

            Start(NewAgent());
            var after = () => _controller.Heartbeats.Skip(beatsBefore).SelectMany(h => h.Workloads).ToList();
            await Poll.UntilAsync(() => after().Any(r => r.WorkloadId == 51 && r.State == WorkloadState.Running), Soon, "the web container runs again by itself");
            var web = after().Last(r => r.WorkloadId == 51);
            await Poll.UntilAsync(async () => (await TryGetAsync(web, "starts"))?.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 2,
                Soon, "the web container answers again on its published port, from the same volume");
            Assert.Equal("written-before-the-reboot", await GetAsync(web, "note"));
            Assert.Contains(after(), r => r.WorkloadId == 50 && r.State == WorkloadState.Running);

            await Poll.UntilAsync(() => after().Any(r => r.WorkloadId == 52 && r.State == WorkloadState.Failed), Soon, "the lost container says why it cannot come back");
            var failed = after().Last(r => r.WorkloadId == 52 && r.State == WorkloadState.Failed);
            output.WriteLine(failed.Message);
            Assert.Equal(WorkloadReasons.ImagePullFailed, failed.Reason);
            Assert.Contains(lost.Split('@')[0], failed.Message, StringComparison.Ordinal);
        }
        finally
        {
            if (!goneDisposed)
            {
                await gone.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task AContainerStartingWithItsVolumeWaitsForItInsteadOfFailing()
    {
        // The image is cached (a first container ran from it), so the container's start reaches its mounts at once,
        // while the volume's filesystem is still being made: as on a node that takes over a reservation.
        var shell = await _registry.PushAsync(await TestImages.ShellAsync(), "shop/shell");
        _controller.Desired = [Container(60, shell, ContainerRestart.Never, ["true"], [])];
        Start(NewAgent());
        await Poll.UntilAsync(() => _controller.LastReportOf(60, 1)?.State == WorkloadState.Exited, Soon, "a first container ran from the image");

        _controller.Desired =
        [
            Container(62, shell, ContainerRestart.OnFailure, ["echo kept > /data/note; sleep 300"], [], [new ContainerMount("data", "/data", false)], 160),
            new WorkloadAssignment(61, 160, 1, new WorkloadSpec("data", WorkloadType.Volume, new Capacity(0, 0, 16L << 20, 0), null, Volume: new VolumeSpec(16L << 20))),
        ];
        await Poll.UntilAsync(() => _controller.LastReportOf(62, 1)?.State == WorkloadState.Running, Soon, "the container runs");

        Assert.DoesNotContain(_controller.ReportsOf(62, 1), r => r.Reason == WorkloadReasons.VolumeMissing);
        Assert.Equal(0, _controller.LastReportOf(62, 1)!.Restarts);
    }

    /// <summary>
    /// What a reboot of the machine takes from this node, short of rebooting: the detached shells that wait on runc
    /// (killed first, so none writes an exit status a reboot would not), the runc containers, every mount and loop
    /// device under the work directory (writable layers, overlays, volumes), the pod namespaces and veths, cgroups.
    /// </summary>
    private async Task RebootAsync()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(_dir.Path, "containers"), "wrapper.pid", SearchOption.AllDirectories))
        {
            if (int.TryParse(File.ReadAllText(file).Trim(), out var pid))
            {
                await Tools.TryRunAsync("kill", "-KILL", pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        await ContainerHost.CleanUpNodeAsync(_nodeId, _dir.Path);

        // A lazily unmounted filesystem lets go of its loop device once its last user is gone; a volume image must not
        // be mounted again while the old device still holds it (a reboot never leaves one).
        await Poll.UntilAsync(async () => (await ContainerHost.LoopDevicesUnderAsync(_dir.Path)).Count == 0, Soon, "the loop devices are detached");
        Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), line => line.Split(' ')[4].StartsWith(_dir.Path, StringComparison.Ordinal));
    }

    private static async Task<string> GetAsync(WorkloadReport report, string path)
    {
        var endpoint = Assert.Single(report.Endpoints!.Value);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return (await http.GetStringAsync($"http://{endpoint.Address}:{endpoint.Port}/{path}")).Trim();
    }

    private static async Task<string?> TryGetAsync(WorkloadReport report, string path)
    {
        try
        {
            return await GetAsync(report, path);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private static WorkloadAssignment Container(
        long workloadId, string image, ContainerRestart restart, ImmutableArray<string> args, ImmutableArray<ContainerPort> ports,
        ImmutableArray<ContainerMount> mounts = default, long? reservationId = null) =>
        new(workloadId, reservationId ?? 100 + workloadId, 1, new WorkloadSpec(
            $"c{workloadId}", WorkloadType.Container, new Capacity(1, 64 << 20, 0, 0), null,
            new ContainerSpec(image, [], args, ImmutableDictionary<string, string>.Empty, null, ports, mounts.IsDefault ? [] : mounts, restart)))
        {
            TwinId = 1,
        };

    private NodeAgent NewAgent(bool containers = true) =>
        new(
            new AgentOptions
            {
                ApiUrl = _controller.Url,
                NodeId = _nodeId,
                NodeKey = FakeController.NodeKey,
                WorkDir = _dir.Path,
                ContainersEnabled = containers,
                PortRangeStart = 44000,
                PortRangeEnd = 44999,
                HeartbeatInterval = TimeSpan.FromMilliseconds(150),
                HeartbeatIntervalGiven = true,
                SupervisionInterval = TimeSpan.FromMilliseconds(25),
                StopGracePeriod = TimeSpan.FromSeconds(2),
                RequestTimeout = TimeSpan.FromSeconds(2),
                StopOnDisconnectAfter = TimeSpan.FromSeconds(30),
            },
            new XunitLogger<NodeAgent>(output));

    private void Start(NodeAgent agent)
    {
        var stop = new CancellationTokenSource();
        _agents.Add((agent, stop, Task.Run(() => agent.RunAsync(stop.Token))));
    }
}
