using System.Diagnostics;
using System.Globalization;
using Grid.Agent.Runtimes.Processes;
using Grid.Agent.Runtimes.Volumes;

namespace Grid.Agent.Runtimes.Containers;

// What the container runtime does on the host for one instance: its writable layer, runc under a detached shell, cleanup.
internal sealed partial class ContainerRuntime
{
    // Folders of an instance that a restart or an end removes ("upper" and "work" are left by agents before layers had a filesystem).
    private static readonly string[] s_layerFolders = ["layer", "upper", "work", "rootfs"];

    private static readonly string? s_setsid = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);

    /// <summary>
    /// Starts <c>runc run</c> in the foreground of a detached shell (its own session): the shell appends the
    /// container's output to <c>output.log</c> and writes runc's exit status to <c>exit</c> when it returns, with
    /// or without the agent.
    /// </summary>
    private void Launch(ContainerInstance instance)
    {
        const string Script = """echo $$ > "$3"; "$4" run --bundle "$1" "$2" >>"$1/output.log" 2>&1 </dev/null; echo $? > "$1/exit.tmp"; mv "$1/exit.tmp" "$1/exit" """;
        var info = new ProcessStartInfo(s_setsid ?? "/bin/sh") { UseShellExecute = false, WorkingDirectory = instance.Folder };
        if (s_setsid is not null)
        {
            info.ArgumentList.Add("/bin/sh");
        }

        foreach (var argument in new[] { "-c", Script, "grid-container", instance.Folder, instance.Id, WrapperFile(instance), options.Runc })
        {
            info.ArgumentList.Add(argument);
        }

        using var shell = Process.Start(info) ?? throw new InvalidOperationException("could not start the runc shell");
    }

    private static bool IsWrapperAlive(ContainerInstance instance)
    {
        var file = WrapperFile(instance);
        return !File.Exists(file) || (int.TryParse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture, out var pid)
            && ProcessProbe.StartMarker(pid) is not null && File.Exists(Path.Combine("/proc", pid.ToString(CultureInfo.InvariantCulture), "cmdline"))
            && File.ReadAllText(Path.Combine("/proc", pid.ToString(CultureInfo.InvariantCulture), "cmdline")).Contains(instance.Id, StringComparison.Ordinal));
    }

    /// <summary>
    /// The image's root filesystem, read-only below the instance's own writable layer: the upper and work folders
    /// live on an ext4 filesystem of exactly <paramref name="layerSize"/> bytes on a loop device (its root owned by
    /// the mapped root), so a container that writes past it gets ENOSPC and the node's disk is untouched.
    /// </summary>
    private async Task<string> MountOverlayAsync(ContainerInstance instance, ReadyImage image, long layerSize, CancellationToken cancellationToken)
    {
        var layer = LayerFolder(instance);
        await LoopVolume.CreateAsync(layer, layerSize, options.ContainerUidBase, cancellationToken);
        var upper = Directory.CreateDirectory(Path.Combine(layer, LoopVolume.MountName, "upper")).FullName;
        var work = Directory.CreateDirectory(Path.Combine(layer, LoopVolume.MountName, "work")).FullName;
        var rootFs = Directory.CreateDirectory(Path.Combine(instance.Folder, "rootfs")).FullName;
        var owner = options.ContainerUidBase.ToString(CultureInfo.InvariantCulture);
        var chown = await Tool.RunAsync("chown", [$"{owner}:{owner}", upper], cancellationToken);
        var mount = chown.Ok
            ? await Tool.RunAsync("mount", ["-t", "overlay", "overlay", "-o", $"lowerdir={image.RootFs},upperdir={upper},workdir={work}", rootFs], cancellationToken)
            : chown;
        return mount.Ok ? rootFs : throw new IOException($"could not mount the container's writable layer: {LastLine(mount.Output)}");
    }

    /// <summary>A start again at the same epoch (a restart) begins from a clean folder; the output file stays.</summary>
    private async Task RemoveLeftoversAsync(ContainerInstance instance)
    {
        // A first start at this epoch finds no folder, so neither a runc container of this id (the folder is its
        // bundle) nor a mount in it: the two tool runs, each a process start, are spared on the common path.
        if (Directory.Exists(instance.Folder))
        {
            await Tool.RunAsync(options.Runc, ["delete", "-f", instance.Id], CancellationToken.None);
            var rootFs = Path.Combine(instance.Folder, "rootfs");
            if (IsMounted(rootFs))
            {
                await Tool.RunAsync("umount", [rootFs], CancellationToken.None);
            }

            await RemoveLayerAsync(instance);
        }

        foreach (var leftover in s_layerFolders)
        {
            DeleteFolder(Path.Combine(instance.Folder, leftover));
        }

        Directory.CreateDirectory(instance.Folder);
        foreach (var file in new[] { "exit", "exit.tmp", "wrapper.pid", "config.json" })
        {
            File.Delete(Path.Combine(instance.Folder, file));
        }

        _cgroups.Remove(instance.Id);
    }

    /// <summary>Removes everything of an instance: runc's container, its layer, cgroup, published ports and pod network.</summary>
    private async Task CleanUpAsync(ContainerInstance instance, bool keepLogs = false)
    {
        var delete = await Tool.RunAsync(options.Runc, ["delete", "-f", instance.Id], CancellationToken.None);
        if (!delete.Ok && !delete.Output.Contains("does not exist", StringComparison.Ordinal))
        {
            LogCleanupFailed(instance.Id, "runc delete", LastLine(delete.Output));
        }

        var rootFs = Path.Combine(instance.Folder, "rootfs");
        if (IsMounted(rootFs) && await Tool.RunAsync("umount", [rootFs], CancellationToken.None) is { Ok: false } umount)
        {
            LogCleanupFailed(instance.Id, "umount", LastLine(umount.Output));
        }

        // The layer goes after the overlay that uses it: its filesystem, loop device and image file.
        await RemoveLayerAsync(instance);
        if (!instance.Ports.IsDefaultOrEmpty)
        {
            await ports.UnpublishAsync(instance.Key);
        }

        await networks.ReleaseAsync(instance.ReservationId, instance.Epoch, instance.Key);
        _cgroups.Remove(instance.Id);
        if (keepLogs)
        {
            foreach (var layer in s_layerFolders)
            {
                DeleteFolder(Path.Combine(instance.Folder, layer));
            }
        }
        else
        {
            DeleteFolder(instance.Folder);
        }
    }

    /// <summary>An adopted container gets its pod network and published ports back (the forwarder lived in the old agent).</summary>
    private async Task ReattachAsync(ContainerInstance instance, CancellationToken cancellationToken)
    {
        var pod = await networks.AcquireAsync(instance.ReservationId, instance.Epoch, instance.Key, cancellationToken);
        if (!instance.Ports.IsDefaultOrEmpty)
        {
            await ports.PublishAsync(instance.Key, instance.Ports, pod.Address, cancellationToken);
        }
    }

    /// <summary>The folder of an instance's writable layer: its ext4 image and the mount holding upper and work.</summary>
    private static string LayerFolder(ContainerInstance instance) => Path.Combine(instance.Folder, "layer");

    /// <summary>Unmounts the writable layer, detaches its loop device and deletes its image; nothing when already gone.</summary>
    private async Task RemoveLayerAsync(ContainerInstance instance)
    {
        try
        {
            await LoopVolume.RemoveAsync(LayerFolder(instance));
        }
        catch (Exception e) when (e is HostCommandException or IOException or UnauthorizedAccessException)
        {
            LogCleanupFailed(instance.Id, "writable layer", e.Message);
        }
    }

    private static bool IsMounted(string path) =>
        File.ReadLines("/proc/self/mountinfo").Any(line => line.Split(' ') is { Length: > 4 } fields && fields[4] == path);

    private static void DeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A folder still mounted or in use: the next start at this key or agent start removes it.
        }
    }
}
