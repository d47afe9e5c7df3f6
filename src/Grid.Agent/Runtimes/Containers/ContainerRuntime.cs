using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json.Nodes;
using Grid.Agent.Runtimes.Networking;
using Grid.Agent.Runtimes.Processes;
using Grid.Agent.Runtimes.Volumes;
using Microsoft.Extensions.Logging;

namespace Grid.Agent.Runtimes.Containers;

/// <summary>
/// Runs <c>container</c> workloads with the field's tools: <c>skopeo</c> pulls the image pinned by digest into the
/// node's cache (<see cref="ImageStore"/>), <c>umoci</c> unpacks it once, and <c>runc</c> runs each instance on an
/// overlay of it (a writable layer per instance, an ext4 filesystem of its <c>sru</c> on a loop device) in its own namespaces, its root mapped to an unprivileged host
/// range, joined to its reservation's pod network. <c>runc run</c> runs under a detached shell that keeps its
/// output and exit status in the instance folder (<c>&lt;workdir&gt;/containers/&lt;id&gt;-e&lt;epoch&gt;/</c>), so containers
/// outlive an agent crash and are re-adopted from <c>containers.json</c> and <c>runc list</c>.
/// </summary>
/// <param name="options">The agent's settings: work directory, node id, the uid map, the image cache size, the stop grace period.</param>
/// <param name="time">Clock of stops and starts.</param>
/// <param name="logger">Where starts, failures and adoptions are logged.</param>
/// <param name="volumes">Where the reservations' volumes are mounted.</param>
/// <param name="networks">The pod network namespaces.</param>
/// <param name="ports">Publishes container ports on the node's address.</param>
/// <param name="adoptNetworking">
/// Called once at adoption with the instances still running, before anything else touches the networks (the pod
/// networks and port publisher then keep theirs and drop the rest); null: adopted instances acquire their pod
/// network and publish their ports again.
/// </param>
internal sealed partial class ContainerRuntime(
    AgentOptions options,
    TimeProvider time,
    ILogger logger,
    IVolumeMounts volumes,
    IPodNetworks networks,
    IPortPublisher ports,
    Func<IReadOnlyCollection<WorkloadKey>, CancellationToken, Task>? adoptNetworking = null)
    : IWorkloadRuntime
{
    // runc's output when the entrypoint cannot be executed (measured with runc 1.1).
    private static readonly string[] s_execFailures = ["executable file not found", "exec failed", "no such file or directory"];

    private readonly ILogger _logger = logger;
    private readonly ConcurrentDictionary<WorkloadKey, ContainerInstance> _instances = new();
    private readonly ConcurrentDictionary<WorkloadKey, WorkloadState> _phases = new();

    // Images of starts under way, by digest hex and count: in use before their container is remembered, so never evicted.
    private readonly ConcurrentDictionary<string, int> _starting = new();
    private readonly Lock _stateGate = new();
    private readonly ContainerCgroup _cgroups = new();
    private readonly ImageStore _images = new(Path.Combine(options.WorkDir, "images"), options.ContainerUidBase, options.ImageCacheBytes);

    /// <inheritdoc/>
    public WorkloadType Type => WorkloadType.Container;

    /// <summary>The node's image cache.</summary>
    public ImageStore Images => _images;

    /// <summary>
    /// The agent checked the tools when it detected its features; here the containers' folder is made traversable
    /// for the mapped root, which runc's bind of the root filesystem needs (an agent's folder is often 0700).
    /// </summary>
    public Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsWindows())
        {
            ProcessRuntime.OpenPathTo(Path.Combine(options.WorkDir, "containers"));
        }

        return Task.CompletedTask;
    }

    /// <summary>Keeps the remembered containers runc still runs; cleans up after the ones that ended meanwhile.</summary>
    public async Task<IReadOnlyList<WorkloadKey>> AdoptAsync(CancellationToken cancellationToken)
    {
        // Without runc's answer nothing can be told apart: the remembered containers are left as they are (cleaning
        // them up would stop tenants' containers that run), and the agent starts again later.
        var running = await RuncListAsync(cancellationToken)
            ?? throw new InvalidOperationException($"'{options.Runc} list' kept failing, so the containers of the last run could not be adopted; they were left as they are.");
        var remembered = ContainerInstance.Load(options.WorkDir);
        var alive = remembered.Where(i => running.Contains(i.Id) && !File.Exists(ExitFile(i))).ToList();
        if (adoptNetworking is not null)
        {
            await adoptNetworking([.. alive.Select(i => i.Key)], cancellationToken);
        }

        var adopted = new List<WorkloadKey>();
        foreach (var instance in remembered)
        {
            if (alive.Contains(instance))
            {
                if (adoptNetworking is null)
                {
                    await ReattachAsync(instance, cancellationToken);
                }

                _instances[instance.Key] = instance;
                adopted.Add(instance.Key);
                LogAdopted(instance.Id);
            }
            else
            {
                await CleanUpAsync(instance);
                LogAdoptionCleaned(instance.Id);
            }
        }

        // runc containers of this node the state file does not know (a crash between runc run and the save).
        foreach (var stray in running.Where(id => id.StartsWith(IdPrefix, StringComparison.Ordinal) && _instances.Values.All(i => i.Id != id)))
        {
            await Tool.RunAsync(options.Runc, ["delete", "-f", stray], CancellationToken.None);
        }

        SaveState();
        return adopted;
    }

    /// <summary>Pulls (or finds) the image, builds the instance's bundle and runs it; answers once it runs or why not.</summary>
    public async Task<WorkloadStatus> StartAsync(WorkloadAssignment assignment, CancellationToken cancellationToken)
    {
        var key = new WorkloadKey(assignment.WorkloadId, assignment.Epoch);
        var spec = assignment.Spec.Container;
        if (spec is null || ImageReference.Parse(spec.Image) is not { } reference)
        {
            return Fail(key, WorkloadCondition.Refused, WorkloadReasons.Refused, "the container workload has no image pinned by a sha256 digest");
        }

        var layerSize = ContainerSpec.WritableLayer(assignment.Spec.Resources);
        if (layerSize < LoopVolume.SmallestSize)
        {
            return Fail(key, WorkloadCondition.Refused, WorkloadReasons.Refused,
                $"a container's writable layer (resources.sru) needs at least {LoopVolume.SmallestSize} bytes; {layerSize} asked");
        }

        _phases[key] = WorkloadState.Pulling;
        _starting.AddOrUpdate(reference.Hex, 1, (_, n) => n + 1);
        ContainerInstance? instance = null;
        try
        {
            ReadyImage image;
            try
            {
                image = await _images.EnsureAsync(
                    reference, assignment.Auth, assignment.TwinId, ImagesInUse, () => _phases[key] = WorkloadState.Pulling, cancellationToken);
            }
            catch (ImagePullException e)
            {
                // An unreachable registry or a full disk may come back: retried. A wrong digest or a non-image never will.
                var condition = e.Reason is WorkloadReasons.DigestMismatch or WorkloadReasons.NotAnImage ? WorkloadCondition.Refused : WorkloadCondition.StartFailed;
                return Fail(key, condition, e.Reason, e.Message);
            }

            _phases[key] = WorkloadState.Starting;
            var mounts = new List<BundleMount>();
            foreach (var mount in spec.Mounts.IsDefault ? [] : spec.Mounts)
            {
                // A volume starting alongside (the reservation just moved here) is waited for, not reported missing.
                await volumes.StartedAsync(assignment.ReservationId, mount.Volume).WaitAsync(cancellationToken);
                if (volumes.HostPath(assignment.ReservationId, mount.Volume) is not { } hostPath)
                {
                    return Fail(key, WorkloadCondition.StartFailed, WorkloadReasons.VolumeMissing, $"volume '{mount.Volume}' is not (yet) on this node");
                }

                mounts.Add(new BundleMount(hostPath, mount.Path, mount.ReadOnly));
            }

            instance = new ContainerInstance(
                key.WorkloadId, key.Epoch, assignment.ReservationId, $"{IdPrefix}w{key.WorkloadId}-e{key.Epoch}",
                Path.Combine(options.WorkDir, "containers", key.ToString()), image.Digest, spec.Ports.IsDefault ? [] : spec.Ports, []);
            await RemoveLeftoversAsync(instance);

            // Remembered before anything is made for it: a cancelled start or a crash then releases what was made.
            _instances[key] = instance;
            SaveState();
            var pod = await networks.AcquireAsync(assignment.ReservationId, key.Epoch, key, cancellationToken);
            var endpoints = instance.Ports.IsEmpty ? [] : await ports.PublishAsync(key, instance.Ports, pod.Address, cancellationToken);
            instance = _instances[key] = instance with { Endpoints = endpoints };
            SaveState();

            var rootFs = await MountOverlayAsync(instance, image, layerSize, cancellationToken);
            _cgroups.Create(instance.Id, assignment.Spec.Resources.Mru);
            ContainerBundle.Write(Path.Combine(image.BundleDir, "config.json"), Path.Combine(instance.Folder, "config.json"), new BundleSettings(
                Args(spec, image),
                [.. (spec.Env ?? ImmutableDictionary<string, string>.Empty).Select(e => $"{e.Key}={e.Value}"), .. ContainerBundle.PortEnv(instance.Ports, endpoints),
                    .. assignment.GpuIds.IsDefaultOrEmpty ? [] : (string[])[$"GRID_GPU_IDS={string.Join(',', assignment.GpuIds)}"]],
                string.IsNullOrWhiteSpace(spec.Workdir) ? "/" : spec.Workdir,
                rootFs,
                pod.NamespacePath,
                ContainerCgroup.RuncPath(instance.Id),
                assignment.Spec.Resources.Cru,
                [.. mounts])
            {
                Devices = assignment.GpuIds.IsDefaultOrEmpty ? [] : Devices.GpuDeviceNodes.OnHost(assignment.GpuIds),
            });

            Launch(instance);
            var status = await AwaitRunningAsync(instance, cancellationToken);
            if (status.Condition == WorkloadCondition.Running)
            {
                LogStarted(instance.Id, key.WorkloadId, key.Epoch, image.Digest);
                EvictImages();
            }

            return status;
        }
        catch (OperationCanceledException)
        {
            if (instance is not null)
            {
                await StopAsync(key, CancellationToken.None);
            }

            throw;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or System.Text.Json.JsonException)
        {
            LogStartCrashed(key.WorkloadId, key.Epoch, e);
            if (instance is not null)
            {
                await CleanUpAsync(instance);
                Forget(key);
            }

            return Fail(key, WorkloadCondition.StartFailed, WorkloadReasons.StartFailed, e.Message);
        }
        finally
        {
            _phases.TryRemove(key, out _);
            if (_starting.AddOrUpdate(reference.Hex, 0, (_, n) => n - 1) <= 0)
            {
                _starting.TryRemove(KeyValuePair.Create(reference.Hex, 0));
            }
        }
    }

    /// <summary>Running while runc runs it; once its exit status is written, why it ended (then forgotten).</summary>
    public async Task<WorkloadStatus> InspectAsync(WorkloadKey key, CancellationToken cancellationToken)
    {
        if (!_instances.TryGetValue(key, out var instance))
        {
            return new WorkloadStatus(WorkloadCondition.Exited);
        }

        new ContainerLog(instance.Folder).Trim();
        if (!File.Exists(ExitFile(instance)))
        {
            if (IsWrapperAlive(instance))
            {
                return WorkloadStatus.Running with { Digest = instance.Digest, Endpoints = instance.Endpoints };
            }

            // No shell and no exit status: the machine rebooted, or the shell was killed. Without runc's answer it is
            // not called ended: the next inspection asks again.
            if (await RuncListAsync(cancellationToken) is not { } running || running.Contains(instance.Id))
            {
                return WorkloadStatus.Running with { Digest = instance.Digest, Endpoints = instance.Endpoints };
            }
        }

        var status = Ended(instance);
        await CleanUpAsync(instance, keepLogs: true);
        Forget(key);
        return status;
    }

    /// <summary>SIGTERM, then SIGKILL after the grace period; then the container, its layer, cgroup, ports and network go.</summary>
    public Task StopAsync(WorkloadKey key, CancellationToken cancellationToken) => StopAsync(key, options.StopGracePeriod, cancellationToken);

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/>; then the container, its layer, cgroup, ports and network go.</summary>
    public async Task StopAsync(WorkloadKey key, TimeSpan grace, CancellationToken cancellationToken)
    {
        if (!_instances.TryGetValue(key, out var instance))
        {
            // Ended earlier: only its kept output is left.
            DeleteFolder(Path.Combine(options.WorkDir, "containers", key.ToString()));
            return;
        }

        await Tool.RunAsync(options.Runc, ["kill", instance.Id, "TERM"], CancellationToken.None);
        var deadline = time.GetUtcNow() + grace;
        while (!File.Exists(ExitFile(instance)) && IsWrapperAlive(instance) && time.GetUtcNow() < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(25), time, CancellationToken.None);
        }

        await Tool.RunAsync(options.Runc, ["kill", "--all", instance.Id, "KILL"], CancellationToken.None);
        await CleanUpAsync(instance);
        Forget(key);
    }

    /// <inheritdoc/>
    public WorkloadState? StartPhase(WorkloadKey key) => _phases.TryGetValue(key, out var phase) ? phase : null;

    /// <inheritdoc/>
    public LogChunk? ReadLogs(WorkloadKey key, long offset) =>
        new ContainerLog(Path.Combine(options.WorkDir, "containers", key.ToString())).Read(offset);

    /// <summary>Lets go of the containers as a crash would: they keep running, listed in the state file.</summary>
    public void Dispose() => _instances.Clear();

    /// <summary>The start of this agent's container ids (<see cref="AgentOptions.NamePrefix"/>): its strays are the unknown ids with it.</summary>
    private string IdPrefix => options.NamePrefix;

    private static string ExitFile(ContainerInstance instance) => Path.Combine(instance.Folder, "exit");

    private static string WrapperFile(ContainerInstance instance) => Path.Combine(instance.Folder, "wrapper.pid");

    private WorkloadStatus Fail(WorkloadKey key, WorkloadCondition condition, string reason, string message)
    {
        LogStartFailed(key.WorkloadId, key.Epoch, reason, message);
        return new WorkloadStatus(condition, message, Reason: reason);
    }

    private static ImmutableArray<string> Args(ContainerSpec spec, ReadyImage image)
    {
        var entrypoint = spec.Entrypoint.IsDefaultOrEmpty ? image.Entrypoint : spec.Entrypoint;
        var args = !spec.Args.IsDefaultOrEmpty ? spec.Args : spec.Entrypoint.IsDefaultOrEmpty ? image.Cmd : [];
        return [.. entrypoint, .. args];
    }

    /// <summary>How an ended container ended: its memory limit, an entrypoint that is not there, or its exit code.</summary>
    private WorkloadStatus Ended(ContainerInstance instance)
    {
        var text = File.Exists(ExitFile(instance)) ? File.ReadAllText(ExitFile(instance)).Trim() : "";
        int? code = int.TryParse(text, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
        if (code == 137 && _cgroups.HitMemoryLimit(instance.Id))
        {
            return new WorkloadStatus(WorkloadCondition.OomKilled, "memory limit", code, WorkloadReasons.OomKilled, instance.Digest);
        }

        var output = new ContainerLog(instance.Folder).Tail();
        if (output.Contains("runc run failed", StringComparison.Ordinal) && s_execFailures.Any(f => output.Contains(f, StringComparison.Ordinal)))
        {
            return new WorkloadStatus(
                WorkloadCondition.Refused, $"the entrypoint cannot be executed: {LastLine(output)}", code, WorkloadReasons.NoSuchEntrypoint, instance.Digest);
        }

        return code is null
            ? new WorkloadStatus(WorkloadCondition.Exited, "the container is gone (node restarted?)", null, null, instance.Digest)
            : new WorkloadStatus(WorkloadCondition.Exited, null, code, code == 0 ? null : WorkloadReasons.ExitCode, instance.Digest);
    }

    /// <summary>Waits until runc reports the container running, or its exit status is written.</summary>
    private async Task<WorkloadStatus> AwaitRunningAsync(ContainerInstance instance, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(60);
        while (time.GetUtcNow() < deadline)
        {
            if (File.Exists(ExitFile(instance)))
            {
                var status = Ended(instance);
                await CleanUpAsync(instance, keepLogs: true);
                Forget(instance.Key);
                return status;
            }

            var state = await Tool.RunAsync(options.Runc, ["state", instance.Id], cancellationToken);
            if (state.Ok && JsonNode.Parse(state.Output)?["status"]?.GetValue<string>() == "running")
            {
                return WorkloadStatus.Running with { Digest = instance.Digest, Endpoints = instance.Endpoints };
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken);
        }

        await StopAsync(instance.Key, CancellationToken.None);
        return new WorkloadStatus(WorkloadCondition.StartFailed, "runc did not start the container within 60 s", Reason: WorkloadReasons.StartFailed);
    }

    private void Forget(WorkloadKey key)
    {
        _instances.TryRemove(key, out _);
        SaveState();
    }

    private void SaveState()
    {
        lock (_stateGate)
        {
            ContainerInstance.Save(options.WorkDir, _instances.Values);
        }
    }

    /// <summary>The images containers run from or are starting from, by digest hex: the cache never removes them.</summary>
    private HashSet<string> ImagesInUse() => [.. _instances.Values.Select(i => i.Hex), .. _starting.Keys];

    private void EvictImages()
    {
        var removed = _images.Evict(ImagesInUse());
        if (removed.Count > 0)
        {
            LogEvicted(removed.Count);
        }
    }

    /// <summary>
    /// The ids runc runs, or null when <c>runc list</c> keeps failing. It fails when a container it found is deleted
    /// before it reads its state (another agent or grid on the machine removing one: "stat /run/runc/…: no such file
    /// or directory"), so it is asked again, five times at most; an empty answer would mean "nothing runs".
    /// </summary>
    private async Task<HashSet<string>?> RuncListAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var list = await Tool.RunAsync(options.Runc, ["list", "--quiet"], cancellationToken);
            if (list.Ok)
            {
                return [.. list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            }

            LogRuncListFailed(attempt, LastLine(list.Output));
            if (attempt == 5)
            {
                return null;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50 * attempt), time, cancellationToken);
        }
    }

    private static string LastLine(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no output";
}
