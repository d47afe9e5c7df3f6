using System.Collections.Immutable;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.Agent.Tests.Devices;

/// <summary>A real agent against a real HTTP endpoint: its <c>--gpu</c> GPUs and coordinates reach the controller, the GPU ids a process.</summary>
public sealed class AgentGpuTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TestWorkDir _dir = new();
    private FakeController _controller = null!;

    public async Task InitializeAsync() => _controller = await FakeController.StartAsync();

    public async Task DisposeAsync()
    {
        await _controller.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task GivenGpusAndCoordinatesAreHeartbeatAndAProcessSeesItsGpuIds()
    {
        var (gpu, _) = Grid.Agent.Devices.GpuOption.Parse("id=0000:01:00.0,vendor=NVIDIA,device=A100,memory=40960");
        _controller.Desired = [new WorkloadAssignment(1, 101, 1, new WorkloadSpec("train", WorkloadType.Process, new Capacity(1, 64 << 20, 0, 0),
            new ProcessSpec("/bin/sh", ["-c", "echo \"$GRID_GPU_IDS\" > gpus.txt; sleep 30"], ImmutableDictionary<string, string>.Empty)))
        {
            GpuIds = ["0000:01:00.0"],
        }];
        await using var agent = new NodeAgent(new AgentOptions
        {
            ApiUrl = _controller.Url,
            NodeId = FakeController.NodeId,
            NodeKey = FakeController.NodeKey,
            WorkDir = _dir.Path,
            AllowProcessWorkloads = true,
            HeartbeatInterval = TimeSpan.FromMilliseconds(150),
            SupervisionInterval = TimeSpan.FromMilliseconds(25),
            StopGracePeriod = TimeSpan.FromSeconds(2),
            Gpus = [gpu!],
            Latitude = 51.05,
            Longitude = 3.72,
        }, new XunitLogger<NodeAgent>(output));
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => agent.RunAsync(stop.Token));

        await Poll.UntilAsync(() => _controller.Heartbeats.Any(h => h.Gpus is { Length: 1 }), TimeSpan.FromSeconds(20), "a heartbeat carries the GPU");
        var beat = _controller.Heartbeats.First(h => h.Gpus is { Length: 1 });
        Assert.Equal(new GpuDevice("0000:01:00.0", "NVIDIA", "A100", 40960), beat.Gpus!.Value[0]);
        Assert.Equal((51.05, 3.72), (beat.Latitude, beat.Longitude));
        Assert.Contains(_controller.RawBodies, b => b.Contains("\"gpus\":[{\"id\":\"0000:01:00.0\"", StringComparison.Ordinal));

        var file = Path.Combine(_dir.WorkloadFolder(1, 1), "gpus.txt");
        await Poll.UntilAsync(() => File.Exists(file) && File.ReadAllText(file).Trim().Length > 0, TimeSpan.FromSeconds(20), "the process wrote its GPU ids");
        Assert.Equal("0000:01:00.0", File.ReadAllText(file).Trim());

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(20));
    }
}
