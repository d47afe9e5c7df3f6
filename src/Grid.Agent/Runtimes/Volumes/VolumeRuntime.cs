using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Grid.Agent.Runtimes.Volumes;

/// <summary>
/// Runs <c>volume</c> workloads: an ext4 filesystem of exactly the volume's size in a sparse image on a loop device,
/// under <c>&lt;workdir&gt;/volumes/n&lt;node&gt;-r&lt;reservation&gt;-e&lt;epoch&gt;-w&lt;workload&gt;-&lt;name&gt;/</c>,
/// mounted there in <c>mnt</c> with its root owned by the containers' mapped root. Running while mounted; a stop
/// unmounts it and frees its space. What it holds is listed in <c>volumes.json</c> for the next agent.
/// </summary>
/// <param name="options">The agent's settings: work directory, node id, the containers' mapped root (<see cref="AgentOptions.ContainerUidBase"/>).</param>
/// <param name="logger">Where volumes made, adopted and removed are logged.</param>
internal sealed partial class VolumeRuntime(AgentOptions options, ILogger logger) : IWorkloadRuntime, IVolumeMounts
{
    /// <summary>Name of the state file inside the work directory.</summary>
    public const string StateFileName = "volumes.json";

    /// <summary>Message prefix of a start refused for lack of space (<see cref="WorkloadReasons.NoSpace"/>).</summary>
    public const string NoSpacePrefix = WorkloadReasons.NoSpace + ": ";

    private const long SmallestSize = LoopVolume.SmallestSize;

    // Touched by the loop and by stops running in parallel: every access and each state file write holds the gate.
    private readonly Lock _gate = new();
    private readonly ILogger _logger = logger;
    private readonly Dictionary<WorkloadKey, VolumeEntry> _volumes = [];
    private readonly StateFile<VolumeEntry> _state = new(Path.Combine(options.WorkDir, StateFileName));

    // Starts under way by reservation and name: a container of the reservation waits for its volume's mount.
    private readonly ConcurrentDictionary<(long ReservationId, string Name), Task<WorkloadStatus>> _starting = new();
    private string? _refusal;

    /// <inheritdoc/>
    public WorkloadType Type => WorkloadType.Volume;

    /// <summary>The folder volumes are made in.</summary>
    public string VolumesFolder { get; } = Path.Combine(options.WorkDir, "volumes");

    /// <summary>Checks that volumes can be made here: root (loop devices and mounts need it) and the tools.</summary>
    public Task PrepareAsync(CancellationToken cancellationToken)
    {
        var missing = new[] { "mkfs.ext4", "losetup", "mount", "umount" }.Where(tool => HostCommand.Find(tool) is null).ToList();
        _refusal = !OperatingSystem.IsLinux() ? "volumes need Linux (loop devices and ext4)"
            : missing.Count > 0 ? $"volumes cannot be made on this node: {string.Join(", ", missing)} not installed (e2fsprogs, util-linux, mount)"
            : !Environment.IsPrivilegedProcess ? "volumes cannot be made on this node: the agent does not run as root (loop devices and mounts need it)"
            : null;
        if (_refusal is not null)
        {
            LogUnavailable(_refusal);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Keeps the volumes of the state file that are still mounted, mounts again the ones whose image survived a host
    /// reboot, and removes every other folder of this node under <see cref="VolumesFolder"/> (half-made by a crash).
    /// </summary>
    public async Task<IReadOnlyList<WorkloadKey>> AdoptAsync(CancellationToken cancellationToken)
    {
        var kept = new List<VolumeEntry>();
        foreach (var volume in _state.Load())
        {
            if (!LoopVolume.IsMounted(volume) && File.Exists(volume.Image) && _refusal is null)
            {
                try
                {
                    await LoopVolume.MountAsync(volume, cancellationToken);
                }
                catch (Exception e) when (e is HostCommandException or IOException)
                {
                    LogRemountFailed(volume.Name, volume.WorkloadId, e);
                }
            }

            if (LoopVolume.IsMounted(volume))
            {
                kept.Add(volume);
                LogAdopted(volume.Name, volume.WorkloadId, volume.Epoch);
            }
        }

        lock (_gate)
        {
            foreach (var volume in kept)
            {
                _volumes[volume.Key] = volume;
            }
        }

        SaveState();
        var keptFolders = kept.Select(v => Path.GetFullPath(v.Folder)).ToHashSet();
        if (Directory.Exists(VolumesFolder))
        {
            foreach (var folder in Directory.GetDirectories(VolumesFolder, $"n{options.NodeId}-*"))
            {
                if (!keptFolders.Contains(Path.GetFullPath(folder)))
                {
                    await RemoveQuietlyAsync(folder);
                }
            }
        }

        return [.. kept.Select(v => v.Key)];
    }

    /// <summary>Makes and mounts the volume; refuses what cannot be made here, answers <see cref="WorkloadCondition.StartFailed"/> without space.</summary>
    public Task<WorkloadStatus> StartAsync(WorkloadAssignment assignment, CancellationToken cancellationToken)
    {
        var slot = (assignment.ReservationId, assignment.Spec.Name);
        var start = MakeAsync(assignment, cancellationToken);
        if (!start.IsCompleted)
        {
            _starting[slot] = start;
            _ = start.ContinueWith(
                done => _starting.TryRemove(KeyValuePair.Create(slot, done)), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return start;
    }

    /// <inheritdoc/>
    public Task StartedAsync(long reservationId, string name) =>
        _starting.TryGetValue((reservationId, name), out var start) ? Task.WhenAny(start) : Task.CompletedTask;

    private async Task<WorkloadStatus> MakeAsync(WorkloadAssignment assignment, CancellationToken cancellationToken)
    {
        var key = new WorkloadKey(assignment.WorkloadId, assignment.Epoch);
        var size = assignment.Spec.Volume?.Size ?? 0;
        var refusal = _refusal
            ?? (assignment.Spec.Volume is null ? "the volume workload has no size"
            : size < SmallestSize ? $"a volume needs at least {SmallestSize} bytes; {size} asked"
            : null);
        if (refusal is not null)
        {
            return new WorkloadStatus(WorkloadCondition.Refused, refusal);
        }

        lock (_gate)
        {
            if (_volumes.TryGetValue(key, out var existing) && LoopVolume.IsMounted(existing))
            {
                return WorkloadStatus.Running;
            }
        }

        var volume = new VolumeEntry(
            key.WorkloadId, key.Epoch, assignment.ReservationId, assignment.Spec.Name, size, Path.Combine(VolumesFolder, FolderName(assignment)));
        Directory.CreateDirectory(VolumesFolder);
        var free = new DriveInfo(VolumesFolder).AvailableFreeSpace;
        if (free < size)
        {
            return new WorkloadStatus(WorkloadCondition.StartFailed, $"{NoSpacePrefix}volume '{volume.Name}' needs {size} bytes, the node has {free} free");
        }

        try
        {
            // A folder left by an earlier failed try of the same instance goes first.
            await LoopVolume.RemoveAsync(volume.Folder);
            await LoopVolume.CreateAsync(volume, options.ContainerUidBase, cancellationToken);
        }
        catch (Exception e) when (e is HostCommandException or IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            await RemoveQuietlyAsync(volume.Folder);
            if (e is OperationCanceledException)
            {
                throw;
            }

            LogStartFailed(volume.Name, key.WorkloadId, key.Epoch, e);
            var noSpace = e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase) || e is IOException { HResult: 28 };
            return new WorkloadStatus(WorkloadCondition.StartFailed, noSpace ? NoSpacePrefix + e.Message : e.Message);
        }

        lock (_gate)
        {
            _volumes[key] = volume;
        }

        // Remembered at once: an agent crashing right after this start keeps the volume instead of leaking it.
        SaveState();
        LogStarted(volume.Name, key.WorkloadId, key.Epoch, volume.Size, volume.MountPath);
        return WorkloadStatus.Running;
    }

    /// <summary>Running while mounted; a volume unmounted behind the agent's back is removed and answered once as exited.</summary>
    public async Task<WorkloadStatus> InspectAsync(WorkloadKey key, CancellationToken cancellationToken)
    {
        VolumeEntry? volume;
        lock (_gate)
        {
            volume = _volumes.GetValueOrDefault(key);
        }

        if (volume is null)
        {
            return new WorkloadStatus(WorkloadCondition.Exited);
        }

        if (LoopVolume.IsMounted(volume))
        {
            return WorkloadStatus.Running;
        }

        await StopAsync(key, cancellationToken);
        return new WorkloadStatus(WorkloadCondition.Exited, $"volume '{volume.Name}' is no longer mounted");
    }

    /// <summary>Unmounts the volume, detaches its loop device and deletes its image; nothing when it is gone.</summary>
    public async Task StopAsync(WorkloadKey key, CancellationToken cancellationToken)
    {
        VolumeEntry? volume;
        lock (_gate)
        {
            volume = _volumes.GetValueOrDefault(key);
        }

        if (volume is null)
        {
            return;
        }

        await LoopVolume.RemoveAsync(volume.Folder);

        // Forgotten once removed: a crash mid-stop leaves it listed, to be adopted or cleaned by the next agent.
        lock (_gate)
        {
            _volumes.Remove(key);
        }

        SaveState();
        LogStopped(volume.Name, key.WorkloadId, key.Epoch);
    }

    /// <summary>The mount folder of the reservation's newest mounted volume of that name; null while there is none.</summary>
    public string? HostPath(long reservationId, string name)
    {
        lock (_gate)
        {
            return _volumes.Values
                .Where(v => v.ReservationId == reservationId && v.Name == name)
                .OrderByDescending(v => v.Epoch)
                .Select(v => v.MountPath)
                .FirstOrDefault();
        }
    }

    /// <summary>Nothing to release: volumes stay mounted and listed for the next agent.</summary>
    public void Dispose()
    {
    }

    private void SaveState()
    {
        lock (_gate)
        {
            _state.Save(_volumes.Values);
        }
    }

    private async Task RemoveQuietlyAsync(string folder)
    {
        try
        {
            await LoopVolume.RemoveAsync(folder);
            LogCleaned(folder);
        }
        catch (Exception e) when (e is HostCommandException or IOException or UnauthorizedAccessException)
        {
            LogCleanFailed(folder, e);
        }
    }

    // Named by node too (two agents share a machine in tests); the workload id keeps two volumes of one name apart.
    private string FolderName(WorkloadAssignment assignment)
    {
        var name = new StringBuilder();
        foreach (var c in assignment.Spec.Name.Take(40))
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        }

        return string.Create(CultureInfo.InvariantCulture, $"n{options.NodeId}-r{assignment.ReservationId}-e{assignment.Epoch}-w{assignment.WorkloadId}-{name}");
    }
}
