using Grid.Agent.Runtimes;
using Grid.Agent.Runtimes.Containers;
using Grid.Testing;
using Grid.Testing.Containers;
using Xunit.Abstractions;

namespace Grid.Agent.Tests.Containers;

/// <summary>
/// The container runtime with real tools: images built from busybox-static, served by docker-registry and as an
/// archive over HTTP, pulled by skopeo, unpacked by umoci and run by runc. One class, so its tests run one after
/// another (they share runc's state and the machine's cgroups).
/// </summary>
public sealed class ContainerRuntimeTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(30);

    private readonly ContainerHost _host = new(new XunitLogger<ContainerRuntimeTests>(output));
    private LocalRegistry? _registry;

    public async Task InitializeAsync() => _registry = await LocalRegistry.StartAsync();

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _registry!.DisposeAsync();
    }

    [Fact]
    public async Task AnHttpdContainerRunsAsAnUnprivilegedUidAndAnswersThroughItsEndpoint()
    {
        var image = await _registry!.PushAsync(await TestImages.HttpdAsync(), "shop/web");
        var runtime = await _host.NewRuntimeAsync();
        var key = new WorkloadKey(1, 1);

        var status = await runtime.StartAsync(ContainerHost.Assignment(key, image, ports: [new ContainerPort("http", TestImages.HttpdPort)]), default);

        Assert.Equal(WorkloadCondition.Running, status.Condition);
        Assert.Equal((await TestImages.HttpdAsync()).Digest, status.Digest);
        var endpoint = Assert.Single(status.Endpoints!.Value);
        Assert.Equal(("http", "127.0.0.1"), (endpoint.Name, endpoint.Address));
        var id = $"{_host.Prefix}w1-e1";
        Assert.Contains(id, await Tools.RuncListAsync());
        var pid = await ContainerHost.PidOfAsync(id);
        var uid = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        output.WriteLine(uid);
        Assert.Equal(_host.Options.ContainerUidBase.ToString(System.Globalization.CultureInfo.InvariantCulture), uid.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]);
        var env = File.ReadAllText($"/proc/{pid}/environ").Split('\0');
        Assert.Contains($"GRID_PORT_HTTP={TestImages.HttpdPort}", env);
        Assert.Contains($"GRID_ADDR_HTTP=127.0.0.1:{endpoint.Port}", env);
        Assert.Contains("GREETING=hi", env);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        string page = "";
        await Poll.UntilAsync(
            async () => (page = await http.GetStringAsync($"http://127.0.0.1:{endpoint.Port}/").ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : "")) == TestImages.Greeting,
            Soon, "httpd answers through its endpoint");
        Assert.Equal(WorkloadCondition.Running, (await runtime.InspectAsync(key, default)).Condition);

        await runtime.StopAsync(key, default);

        Assert.DoesNotContain(id, await Tools.RuncListAsync());
        Assert.False(File.Exists($"/var/run/netns/{_host.Prefix}r501-e1"), "the pod namespace goes with its last container");
        Assert.False(Directory.Exists(Path.Combine(_host.Dir, "containers", key.ToString())));
        Assert.Empty(ContainerInstance.Load(_host.Dir));
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => http.GetStringAsync($"http://127.0.0.1:{endpoint.Port}/"));
    }

    [Fact]
    public async Task AnArchiveRunsByItsFileHashAndAWrongHashIsADigestMismatch()
    {
        var archive = await TestImages.HttpdArchiveAsync();
        using var files = FileServer.Start(Path.GetDirectoryName(archive.Path)!);
        var runtime = await _host.NewRuntimeAsync();
        var wrong = new string('0', 64);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var mismatch = await runtime.StartAsync(ContainerHost.Assignment(new(2, 1), $"{files.UrlOf(archive.Path)}@sha256:{wrong}"), default);
        output.WriteLine($"digest mismatch answered after {clock.Elapsed.TotalSeconds:0.00}s: {mismatch.Message}");

        Assert.Equal((WorkloadCondition.Refused, WorkloadReasons.DigestMismatch), (mismatch.Condition, mismatch.Reason));
        Assert.Contains(archive.Hex, mismatch.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));

        var good = await runtime.StartAsync(ContainerHost.Assignment(new(3, 1), $"{files.UrlOf(archive.Path)}@sha256:{archive.Hex}"), default);
        Assert.Equal(WorkloadCondition.Running, good.Condition);
        Assert.Equal($"sha256:{archive.Hex}", good.Digest);
        await runtime.StopAsync(new(3, 1), default);

        var notAnImage = Path.Combine(Path.GetDirectoryName(archive.Path)!, "junk.tar");
        await File.WriteAllTextAsync(notAnImage, "not an image");
        var junkHex = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(notAnImage)));
        var junk = await runtime.StartAsync(ContainerHost.Assignment(new(4, 1), $"{files.UrlOf(notAnImage)}@sha256:{junkHex}"), default);
        Assert.Equal((WorkloadCondition.Refused, WorkloadReasons.NotAnImage), (junk.Condition, junk.Reason));
    }

    [Fact]
    public async Task AnUnknownDigestOrUnreachableRegistryIsAPullFailureRetried()
    {
        var runtime = await _host.NewRuntimeAsync();
        var unknown = await runtime.StartAsync(ContainerHost.Assignment(new(5, 1), $"{_registry!.Host}/shop/none@sha256:{new string('1', 64)}"), default);
        var unreachable = await runtime.StartAsync(ContainerHost.Assignment(new(6, 1), $"127.0.0.1:{FreePort.Get()}/shop/web@sha256:{new string('2', 64)}"), default);

        Assert.Equal((WorkloadCondition.StartFailed, WorkloadReasons.ImagePullFailed), (unknown.Condition, unknown.Reason));
        Assert.Equal((WorkloadCondition.StartFailed, WorkloadReasons.ImagePullFailed), (unreachable.Condition, unreachable.Reason));
        output.WriteLine($"{unknown.Message}\n{unreachable.Message}");
    }

    [Fact]
    public async Task AContainerPastItsMemoryIsOomKilled()
    {
        var image = await _registry!.PushAsync(await TestImages.MemoryHogAsync(), "shop/hog");
        var runtime = await _host.NewRuntimeAsync();
        var key = new WorkloadKey(7, 1);

        var status = await runtime.StartAsync(ContainerHost.Assignment(key, image, mru: 32L << 20), default);
        await Poll.UntilAsync(
            async () => (status = status.Condition == WorkloadCondition.Running ? await runtime.InspectAsync(key, default) : status).Condition != WorkloadCondition.Running,
            Soon, "the kernel stops the hog");
        output.WriteLine($"{status}; output: {runtime.ReadLogs(key, 0)?.Text}");

        Assert.Equal((WorkloadCondition.OomKilled, WorkloadReasons.OomKilled, "memory limit"), (status.Condition, status.Reason, status.Message));
        Assert.DoesNotContain($"{_host.Prefix}w7-e1", await Tools.RuncListAsync());
    }

    [Fact]
    public async Task AnExitCodeIsReportedWithTheOutputAndAMissingEntrypointIsNotRetried()
    {
        var image = await _registry!.PushAsync(await TestImages.ShellAsync(), "shop/shell");
        var runtime = await _host.NewRuntimeAsync();
        var key = new WorkloadKey(8, 1);

        var status = await runtime.StartAsync(ContainerHost.Assignment(key, image, args: ["echo to-stdout; echo to-stderr >&2; sleep 0.3; exit 3"]), default);
        await Poll.UntilAsync(
            async () => (status = status.Condition == WorkloadCondition.Running ? await runtime.InspectAsync(key, default) : status).Condition != WorkloadCondition.Running,
            Soon, "the container exits");

        Assert.Equal((WorkloadCondition.Exited, 3, WorkloadReasons.ExitCode), (status.Condition, status.ExitCode, status.Reason));
        var logs = runtime.ReadLogs(key, 0);
        Assert.NotNull(logs);
        Assert.Contains("to-stdout", logs.Text, StringComparison.Ordinal);
        Assert.Contains("to-stderr", logs.Text, StringComparison.Ordinal);
        Assert.Null(runtime.ReadLogs(key, logs.Next));
        var policy = new Reconciling.RestartPolicy(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        Assert.Equal(WorkloadState.Failed, policy.Decide(status, new(0, TimeSpan.Zero, default), null, DateTimeOffset.UtcNow, ContainerRestart.Never).State);
        await runtime.StopAsync(key, default);
        Assert.Null(runtime.ReadLogs(key, 0));

        var missing = await runtime.StartAsync(ContainerHost.Assignment(new(9, 1), image, entrypoint: ["/bin/no-such-thing"]), default);
        await Poll.UntilAsync(
            async () => (missing = missing.Condition == WorkloadCondition.Running ? await runtime.InspectAsync(new(9, 1), default) : missing).Condition != WorkloadCondition.Running,
            Soon, "runc fails to exec the entrypoint");
        output.WriteLine(missing.Message);
        Assert.Equal((WorkloadCondition.Refused, WorkloadReasons.NoSuchEntrypoint), (missing.Condition, missing.Reason));
    }

    [Fact]
    public async Task AContainerOutlivesItsAgentIsAdoptedWithItsEndpointAndStopsCleanly()
    {
        var image = await _registry!.PushAsync(await TestImages.HttpdAsync(), "shop/web");
        var first = await _host.NewRuntimeAsync();
        var key = new WorkloadKey(10, 2);
        var started = await first.StartAsync(ContainerHost.Assignment(key, image, ports: [new ContainerPort("http", TestImages.HttpdPort)]), default);
        Assert.Equal(WorkloadCondition.Running, started.Condition);
        var endpoint = Assert.Single(started.Endpoints!.Value);
        var id = $"{_host.Prefix}w10-e2";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Poll.UntilAsync(() => Answers(http, endpoint), Soon, "httpd answers through its endpoint");

        await _host.CrashAsync(first);
        var second = await _host.NewRuntimeAsync();
        var adopted = await second.AdoptAsync(default);

        Assert.Equal([key], adopted);
        var status = await second.InspectAsync(key, default);
        Assert.Equal(WorkloadCondition.Running, status.Condition);
        Assert.Equal((await TestImages.HttpdAsync()).Digest, status.Digest);
        Assert.Equal([endpoint], status.Endpoints!.Value.ToArray());
        await Poll.UntilAsync(() => Answers(http, endpoint), Soon, "the adopted container answers on the same endpoint");

        // Its writable layer (no sru asked: the default size) stays mounted under the running overlay.
        var folder = Path.Combine(_host.Dir, "containers", key.ToString());
        Assert.Equal(ContainerSpec.DefaultWritableLayer, new FileInfo(Path.Combine(folder, "layer", "volume.img")).Length);
        Assert.Single(await ContainerHost.LoopDevicesUnderAsync(folder));
        Assert.Contains(File.ReadLines("/proc/self/mountinfo"), line => line.Split(' ')[4] == Path.Combine(folder, "layer", "mnt"));

        await second.StopAsync(key, default);
        Assert.Empty(await ContainerHost.LoopDevicesUnderAsync(folder));

        Assert.DoesNotContain(id, await Tools.RuncListAsync());
        Assert.Empty(ContainerInstance.Load(_host.Dir));
    }

    [Fact]
    public async Task TheAgentsOfTwoGridsWhoseNodesHaveTheSameIdKeepTheirContainersApart()
    {
        // Two grids number their nodes alike: node N of each on one machine, each running its workload 15 at epoch 1 of
        // reservation 515. Named by node alone, the second's runc run failed (the id was taken) while its agent, asking
        // runc about the id, saw the first's container running and reported it as its own; restarted, it cleaned up
        // its "ended" container by that id, deleting the first's (measured against the old names).
        await using var other = new ContainerHost(new XunitLogger<ContainerRuntimeTests>(output), nodeId: _host.NodeId);
        var image = await _registry!.PushAsync(await TestImages.ShellAsync(), "shop/shell");
        var key = new WorkloadKey(15, 1);
        var mine = await _host.NewRuntimeAsync();
        var theirs = await other.NewRuntimeAsync();
        Assert.Equal(WorkloadCondition.Running, (await mine.StartAsync(ContainerHost.Assignment(key, image, args: ["sleep 300"]), default)).Condition);
        var started = await theirs.StartAsync(ContainerHost.Assignment(key, image, args: ["sleep 300"]), default);
        Assert.True(started.Condition == WorkloadCondition.Running, $"the other grid's container: {started}");

        // The other agent restarts: it adopts its own container and leaves this one's alone.
        await other.CrashAsync(theirs);
        var restarted = await other.NewRuntimeAsync();
        Assert.Equal([key], await restarted.AdoptAsync(default));
        Assert.Contains($"{_host.Prefix}w15-e1", await Tools.RuncListAsync());
        Assert.Equal(WorkloadCondition.Running, (await mine.InspectAsync(key, default)).Condition);

        // Stopping one stops only that one.
        await restarted.StopAsync(key, default);
        Assert.DoesNotContain($"{other.Prefix}w15-e1", await Tools.RuncListAsync());
        Assert.Equal(WorkloadCondition.Running, (await mine.InspectAsync(key, default)).Condition);
        await mine.StopAsync(key, default);
        Assert.DoesNotContain($"{_host.Prefix}w15-e1", await Tools.RuncListAsync());
    }

    [Fact]
    public async Task AdoptionAsksRuncAgainWhenItsListingFailsAndNeverCleansUpWhatItCouldNotSee()
    {
        // A runc whose listing fails on cue, as runc list does when a container it found is deleted before it reads
        // its state (another agent on the machine removing one); everything else is the real runc.
        using var runc = FlakyRunc.Create();
        await using var host = new ContainerHost(new XunitLogger<ContainerRuntimeTests>(output), runc: runc.Path);
        var image = await _registry!.PushAsync(await TestImages.ShellAsync(), "shop/shell");
        var key = new WorkloadKey(14, 1);
        var id = $"{host.Prefix}w14-e1";
        var first = await host.NewRuntimeAsync();
        Assert.Equal(WorkloadCondition.Running, (await first.StartAsync(ContainerHost.Assignment(key, image, args: ["sleep 300"]), default)).Condition);
        await host.CrashAsync(first);

        // Two failed listings: asked again, the container is adopted (an empty answer used to clean it up).
        runc.FailNextListings(2);
        var second = await host.NewRuntimeAsync();
        Assert.Equal([key], await second.AdoptAsync(default));
        Assert.Equal(0, runc.ListingsLeftToFail);
        Assert.Equal(WorkloadCondition.Running, (await second.InspectAsync(key, default)).Condition);
        await host.CrashAsync(second);

        // runc never answers: the adoption fails and leaves the container running and remembered.
        runc.FailNextListings(100);
        var third = await host.NewRuntimeAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => third.AdoptAsync(default));
        Assert.Contains(id, await Tools.RuncListAsync());
        Assert.Single(ContainerInstance.Load(host.Dir));
        await host.CrashAsync(third);

        // Once runc answers again, the next agent adopts it and stops it cleanly.
        runc.FailNextListings(0);
        var fourth = await host.NewRuntimeAsync();
        Assert.Equal([key], await fourth.AdoptAsync(default));
        await fourth.StopAsync(key, default);
        Assert.DoesNotContain(id, await Tools.RuncListAsync());
    }

    [Fact]
    public async Task AnImagePulledWithCredentialsIsNotHandedToAnotherTwinWithout()
    {
        await using var locked = await LocalRegistry.StartAsync("tenant", "s3cret");
        var image = await locked.PushAsync(await TestImages.ShellAsync(), "private/shell");
        var runtime = await _host.NewRuntimeAsync();
        var auth = new PullCredentials("tenant", "s3cret");

        var owner = await runtime.StartAsync(ContainerHost.Assignment(new(11, 1), image, args: ["sleep 300"], twinId: 1, auth: auth), default);
        var stranger = await runtime.StartAsync(ContainerHost.Assignment(new(12, 1), image, args: ["sleep 300"], twinId: 2), default);
        var other = await runtime.StartAsync(ContainerHost.Assignment(new(13, 1), image, args: ["sleep 300"], twinId: 3, auth: auth), default);

        Assert.Equal(WorkloadCondition.Running, owner.Condition);
        Assert.Equal((WorkloadCondition.StartFailed, WorkloadReasons.ImagePullFailed), (stranger.Condition, stranger.Reason));
        Assert.Equal(WorkloadCondition.Running, other.Condition);
        Assert.DoesNotContain("s3cret", string.Join('\n', Directory.EnumerateFiles(_host.Dir, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/rootfs/", StringComparison.Ordinal) && !f.Contains("/blobs/", StringComparison.Ordinal) && new FileInfo(f).Length < 1 << 20)
            .Select(File.ReadAllText)), StringComparison.Ordinal);
        var hex = (await TestImages.ShellAsync()).Digest[7..];
        Assert.Equal(new long[] { 1, 3 }, runtime.Images.Load(hex)!.Twins.ToArray());
        await runtime.StopAsync(new(11, 1), default);
        await runtime.StopAsync(new(13, 1), default);
    }

    [Fact]
    public async Task AVolumeIsMountedByNameAndWritingPastItsSizeFailsInside()
    {
        var image = await _registry!.PushAsync(await TestImages.ShellAsync(), "shop/shell");
        var runtime = await _host.NewRuntimeAsync();
        var mount = new ContainerMount("data", "/data", ReadOnly: false);
        var key = new WorkloadKey(21, 1);
        var write = "echo kept > /data/note; dd if=/dev/zero of=/data/big bs=1M count=64; echo dd-exit=$?";

        var missing = await runtime.StartAsync(ContainerHost.Assignment(key, image, args: [write], mounts: [mount], reservationId: 900), default);
        Assert.Equal((WorkloadCondition.StartFailed, WorkloadReasons.VolumeMissing), (missing.Condition, missing.Reason));

        var volumes = _host.Volumes!;
        await volumes.PrepareAsync(default);
        var volume = new WorkloadAssignment(20, 900, 1, new WorkloadSpec("data", WorkloadType.Volume, new Capacity(0, 0, 16L << 20, 0), null, Volume: new VolumeSpec(16L << 20)));
        Assert.Equal(WorkloadCondition.Running, (await volumes.StartAsync(volume, default)).Condition);
        try
        {
            var status = await runtime.StartAsync(ContainerHost.Assignment(key, image, args: [write], mounts: [mount], reservationId: 900), default);
            await Poll.UntilAsync(
                async () => (status = status.Condition == WorkloadCondition.Running ? await runtime.InspectAsync(key, default) : status).Condition != WorkloadCondition.Running,
                Soon, "the writer ends");
            var logs = runtime.ReadLogs(key, 0)?.Text ?? "";
            output.WriteLine(logs);

            Assert.Contains("No space left on device", logs, StringComparison.Ordinal);
            Assert.Contains("dd-exit=1", logs, StringComparison.Ordinal);
            Assert.Equal("kept\n", File.ReadAllText(Path.Combine(volumes.HostPath(900, "data")!, "note")));
            await runtime.StopAsync(key, default);
        }
        finally
        {
            await volumes.StopAsync(new WorkloadKey(20, 1), default);
        }
    }

    [Fact]
    public async Task WritingPastTheWritableLayersSruFailsInsideAndTheLayerGoesOnStop()
    {
        var image = await _registry!.PushAsync(await TestImages.ShellAsync(), "shop/shell");
        var runtime = await _host.NewRuntimeAsync();
        var key = new WorkloadKey(40, 1);
        const long Layer = 16L << 20;
        var folder = Path.Combine(_host.Dir, "containers", key.ToString());

        var status = await runtime.StartAsync(
            ContainerHost.Assignment(key, image, args: ["dd if=/dev/zero of=/big bs=1M count=32; echo dd-exit=$?; sleep 300"], sru: Layer), default);
        Assert.Equal(WorkloadCondition.Running, status.Condition);
        await Poll.UntilAsync(() => Task.FromResult(runtime.ReadLogs(key, 0)?.Text.Contains("dd-exit=", StringComparison.Ordinal) == true), Soon, "dd ends");
        var logs = runtime.ReadLogs(key, 0)!.Text;
        output.WriteLine(logs);

        Assert.Contains("No space left on device", logs, StringComparison.Ordinal);
        Assert.Contains("dd-exit=1", logs, StringComparison.Ordinal);

        // The layer is a file of exactly its sru on one loop device; on the host's filesystem the instance takes no
        // more than that (du -x stays off the layer's and the overlay's mounts), whatever the container wrote.
        var layerImage = Path.Combine(folder, "layer", "volume.img");
        Assert.Equal(Layer, new FileInfo(layerImage).Length);
        var device = Assert.Single(await ContainerHost.LoopDevicesUnderAsync(folder));
        var hostBytes = long.Parse((await Tools.RunAsync("du", "-sxB1", folder)).Split('\t')[0], System.Globalization.CultureInfo.InvariantCulture);
        output.WriteLine($"{device}; the instance takes {hostBytes} bytes on the host");
        Assert.True(hostBytes <= Layer + (1L << 20), $"the instance takes {hostBytes} bytes of the host's disk; its layer is {Layer}");

        await runtime.StopAsync(key, default);

        Assert.Empty(await ContainerHost.LoopDevicesUnderAsync(folder));
        Assert.False(Directory.Exists(folder));
        Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), line => line.Contains(folder, StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnusedImagesLeaveTheCacheWhenItOutgrowsItsSize()
    {
        await using var host = new ContainerHost(new XunitLogger<ContainerRuntimeTests>(output), imageCacheBytes: 1);
        var shell = await TestImages.ShellAsync();
        var httpd = await TestImages.HttpdAsync();
        var runtime = await host.NewRuntimeAsync();
        var first = ContainerHost.Assignment(new(30, 1), await _registry!.PushAsync(shell, "shop/shell"), args: ["sleep 300"]);
        Assert.Equal(WorkloadCondition.Running, (await runtime.StartAsync(first, default)).Condition);
        Assert.True(runtime.Images.Size() > 0);

        await runtime.StopAsync(new(30, 1), default);
        var second = ContainerHost.Assignment(new(31, 1), await _registry.PushAsync(httpd, "shop/web"));
        Assert.Equal(WorkloadCondition.Running, (await runtime.StartAsync(second, default)).Condition);

        Assert.Null(runtime.Images.Load(shell.Digest[7..]));
        Assert.NotNull(runtime.Images.Load(httpd.Digest[7..]));
        Assert.False(Directory.Exists(Path.Combine(runtime.Images.Root, shell.Digest[7..])));
        await runtime.StopAsync(new(31, 1), default);
    }

    private static async Task<bool> Answers(HttpClient http, WorkloadEndpoint endpoint)
    {
        try
        {
            return await http.GetStringAsync($"http://{endpoint.Address}:{endpoint.Port}/") == TestImages.Greeting;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
