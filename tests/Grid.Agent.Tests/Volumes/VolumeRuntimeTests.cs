using Grid.Agent.Runtimes;
using Grid.Agent.Runtimes.Volumes;
using Xunit.Abstractions;

namespace Grid.Agent.Tests.Volumes;

/// <summary>The <c>volume</c> runtime with real ext4 images, loop devices and mounts (root, as on CI).</summary>
public sealed class VolumeRuntimeTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const long NodeId = 78;
    private const long Size = 16L << 20;

    private readonly TestWorkDir _dir = new();
    private readonly List<VolumeRuntime> _runtimes = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // Every folder a runtime made, whatever the test reached: unmounted, detached, deleted.
        var volumes = Path.Combine(_dir.Path, "volumes");
        if (Directory.Exists(volumes))
        {
            foreach (var folder in Directory.GetDirectories(volumes))
            {
                await LoopVolume.RemoveAsync(folder);
            }
        }

        foreach (var runtime in _runtimes)
        {
            runtime.Dispose();
        }

        _dir.Dispose();
    }

    [Fact]
    public async Task AVolumeHoldsItsSizeAndWritingPastItFailsInsideOnly()
    {
        var runtime = await NewRuntimeAsync();
        Assert.Equal(WorkloadStatus.Running, await runtime.StartAsync(Volume(new WorkloadKey(1, 1), "data"), default));
        var mount = runtime.HostPath(101, "data");
        Assert.NotNull(mount);
        Assert.Equal("100000", (await HostCommand.CheckedAsync("stat", ["-c", "%u", mount])).Trim());

        var written = 0L;
        var failure = await Assert.ThrowsAsync<IOException>(async () =>
        {
            await using var file = new FileStream(Path.Combine(mount, "fill"), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            var block = new byte[1 << 20];
            Random.Shared.NextBytes(block);
            for (var i = 0; i < 20; i++)
            {
                await file.WriteAsync(block);
                await file.FlushAsync();
                written += block.Length;
            }
        });

        output.WriteLine($"{written} bytes written before: {failure.Message}");
        Assert.Contains("No space left on device", failure.Message, StringComparison.Ordinal);
        Assert.InRange(written, 12L << 20, Size);

        // The writes landed in the image, which takes no more of the host than the volume's size.
        var image = Path.Combine(Path.GetDirectoryName(mount)!, LoopVolume.ImageName);
        Assert.Equal(Size, new FileInfo(image).Length);
        var allocated = long.Parse((await HostCommand.CheckedAsync("du", ["-B1", image])).Split('\t')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(allocated, written, Size);
    }

    [Fact]
    public async Task StoppingAVolumeUnmountsItDetachesItsLoopDeviceAndFreesItsFile()
    {
        var runtime = await NewRuntimeAsync();
        var key = new WorkloadKey(2, 1);
        await runtime.StartAsync(Volume(key, "scratch"), default);
        var mount = runtime.HostPath(102, "scratch")!;
        var folder = Path.GetDirectoryName(mount)!;
        var image = Path.Combine(folder, LoopVolume.ImageName);
        var device = Assert.Single(await LoopVolume.DevicesOfAsync(image));
        Assert.Equal(device, MountTable.At(mount)?.Source);
        Assert.Equal(WorkloadCondition.Running, (await runtime.InspectAsync(key, default)).Condition);

        await runtime.StopAsync(key, default);

        Assert.Null(MountTable.At(mount));
        Assert.False(Directory.Exists(folder));
        Assert.DoesNotContain(image, (await HostCommand.CheckedAsync("losetup", ["-a"])), StringComparison.Ordinal);
        Assert.Null(runtime.HostPath(102, "scratch"));
        Assert.Equal(WorkloadCondition.Exited, (await runtime.InspectAsync(key, default)).Condition);
        await runtime.StopAsync(key, default);
    }

    [Fact]
    public async Task ANewRuntimeKeepsAMountedVolumeAndCleansAHalfMadeOne()
    {
        var first = await NewRuntimeAsync();
        var key = new WorkloadKey(3, 2);
        await first.StartAsync(Volume(key, "keep"), default);
        var mount = first.HostPath(103, "keep")!;
        await File.WriteAllTextAsync(Path.Combine(mount, "hello"), "kept");
        first.Dispose();
        Assert.NotNull(MountTable.At(mount));

        // What a crash between mkfs and the state file leaves: a folder of this node the state file does not list.
        var halfMade = Path.Combine(first.VolumesFolder, $"n{NodeId}-r9-e1-w9-half");
        Directory.CreateDirectory(Path.Combine(halfMade, LoopVolume.MountName));
        await File.WriteAllBytesAsync(Path.Combine(halfMade, LoopVolume.ImageName), new byte[4096]);

        var second = await NewRuntimeAsync();
        Assert.Equal([key], await second.AdoptAsync(default));

        Assert.Equal(mount, second.HostPath(103, "keep"));
        Assert.Equal("kept", await File.ReadAllTextAsync(Path.Combine(mount, "hello")));
        Assert.False(Directory.Exists(halfMade));
        Assert.Equal(WorkloadCondition.Running, (await second.InspectAsync(key, default)).Condition);
        await second.StopAsync(key, default);
        Assert.Null(MountTable.At(mount));
    }

    [Fact]
    public async Task AVolumeTooSmallIsRefusedAndLeavesNothing()
    {
        var runtime = await NewRuntimeAsync();

        var status = await runtime.StartAsync(Volume(new WorkloadKey(4, 1), "tiny", 4096), default);

        Assert.Equal(WorkloadCondition.Refused, status.Condition);
        Assert.Contains("at least", status.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(runtime.VolumesFolder) && Directory.EnumerateFileSystemEntries(runtime.VolumesFolder).Any());
    }

    private async Task<VolumeRuntime> NewRuntimeAsync()
    {
        var runtime = new VolumeRuntime(
            new AgentOptions { ApiUrl = new Uri("http://127.0.0.1:1"), NodeId = NodeId, NodeKey = "k", WorkDir = _dir.Path },
            new XunitLogger<VolumeRuntime>(output));
        _runtimes.Add(runtime);
        await runtime.PrepareAsync(default);
        return runtime;
    }

    private static WorkloadAssignment Volume(WorkloadKey key, string name, long size = Size) =>
        new(key.WorkloadId, 100 + key.WorkloadId, key.Epoch, new WorkloadSpec(
            name, WorkloadType.Volume, new Capacity(0, 0, size, 0), null, Volume: new VolumeSpec(size)));
}
