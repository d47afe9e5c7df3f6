using Grid.Agent.Runtimes;
using Grid.Testing;
using Grid.Testing.Containers;
using Xunit.Abstractions;

namespace Grid.Agent.Tests.Containers;

/// <summary>
/// The image cache on a disk that runs short: the node's cache folder is a small ext4 filesystem of its own, filled
/// by a file as other users of a disk would fill it. The cache's cap is far away (10 GiB), so only the disk's free
/// space (statvfs) can make the agent remove images. Real registry, skopeo, umoci and runc.
/// </summary>
public sealed class ImageCacheSpaceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const long DiskSize = 64L << 20;

    private readonly ContainerHost _host = new(new XunitLogger<ImageCacheSpaceTests>(output));
    private LocalRegistry? _registry;

    public async Task InitializeAsync() => _registry = await LocalRegistry.StartAsync();

    public async Task DisposeAsync()
    {
        // The host unmounts what is mounted under its folder (the cache's disk too) and detaches its loop devices.
        await _host.DisposeAsync();
        await _registry!.DisposeAsync();
    }

    [Fact]
    public async Task AnUnusedImageLeavesWhenTheDiskRunsShortAndAnImageInUseNeverDoes()
    {
        var (httpd, shell, hog) = (await TestImages.HttpdAsync(), await TestImages.ShellAsync(), await TestImages.MemoryHogAsync());
        var images = Path.Combine(_host.Dir, "images");
        await SmallDiskAsync(Path.Combine(_host.Dir, "images.img"), images);
        var runtime = await _host.NewRuntimeAsync();
        var filler = Path.Combine(images, "filler");

        // httpd ran and stopped: cached, unused. The shell runs on: its image is in use.
        var web = ContainerHost.Assignment(new(50, 1), await _registry!.PushAsync(httpd, "shop/web"));
        Assert.Equal(WorkloadCondition.Running, (await runtime.StartAsync(web, default)).Condition);
        await runtime.StopAsync(new(50, 1), default);
        var sleeper = ContainerHost.Assignment(new(51, 1), await _registry.PushAsync(shell, "shop/shell"), args: ["sleep 300"]);
        Assert.Equal(WorkloadCondition.Running, (await runtime.StartAsync(sleeper, default)).Condition);
        var imageSize = runtime.Images.Load(httpd.Digest[7..])!.Size;

        // The disk fills up until less is free than an image takes: the next pull first removes the unused image.
        Fill(filler, runtime.Images.FreeBytes() - (imageSize / 2));
        output.WriteLine($"an image takes {imageSize} bytes; {runtime.Images.FreeBytes()} free before the pull");
        var hogging = ContainerHost.Assignment(new(52, 1), await _registry.PushAsync(hog, "shop/hog"), args: ["sleep 300"]);
        var started = await runtime.StartAsync(hogging, default);

        Assert.Equal(WorkloadCondition.Running, started.Condition);
        Assert.Null(runtime.Images.Load(httpd.Digest[7..]));
        Assert.False(Directory.Exists(Path.Combine(images, httpd.Digest[7..])));
        Assert.NotNull(runtime.Images.Load(shell.Digest[7..]));
        Assert.NotNull(runtime.Images.Load(hog.Digest[7..]));

        // Short again, with only images in use left: they stay, and the start fails with the reason, to be retried.
        Fill(filler, runtime.Images.FreeBytes() - (imageSize / 2));
        var again = await runtime.StartAsync(ContainerHost.Assignment(new(53, 1), web.Spec.Container!.Image), default);
        output.WriteLine(again.Message);

        Assert.Equal((WorkloadCondition.StartFailed, WorkloadReasons.NoSpace), (again.Condition, again.Reason));
        Assert.Contains("2 image(s) in use stay cached", again.Message, StringComparison.Ordinal);
        Assert.NotNull(runtime.Images.Load(shell.Digest[7..]));
        Assert.NotNull(runtime.Images.Load(hog.Digest[7..]));
        Assert.Equal(WorkloadCondition.Running, (await runtime.InspectAsync(new(51, 1), default)).Condition);
        Assert.Equal(WorkloadCondition.Running, (await runtime.InspectAsync(new(52, 1), default)).Condition);
        Assert.Empty(Directory.GetDirectories(images, ".pull-*"));

        // Space back: the same start succeeds.
        File.Delete(filler);
        Assert.Equal(WorkloadCondition.Running, (await runtime.StartAsync(ContainerHost.Assignment(new(53, 1), web.Spec.Container!.Image), default)).Condition);
        foreach (var id in new long[] { 51, 52, 53 })
        {
            await runtime.StopAsync(new(id, 1), default);
        }
    }

    /// <summary>An ext4 filesystem of <see cref="DiskSize"/> in <paramref name="file"/>, mounted at <paramref name="mountPoint"/> (no blocks kept for root).</summary>
    private static async Task SmallDiskAsync(string file, string mountPoint)
    {
        await using (var image = File.Create(file))
        {
            image.SetLength(DiskSize);
        }

        await Tools.RunAsync("mkfs.ext4", "-q", "-F", "-m", "0", file);
        Directory.CreateDirectory(mountPoint);
        await Tools.RunAsync("mount", "-o", "loop", file, mountPoint);
    }

    /// <summary>Grows <paramref name="file"/> by <paramref name="bytes"/> of real blocks (not a sparse hole).</summary>
    private static void Fill(string file, long bytes)
    {
        var chunk = new byte[1 << 20];
        using var stream = new FileStream(file, FileMode.Append);
        for (var left = bytes; left > 0; left -= chunk.Length)
        {
            stream.Write(chunk, 0, (int)Math.Min(chunk.Length, left));
        }

        stream.Flush(flushToDisk: true);
    }
}
