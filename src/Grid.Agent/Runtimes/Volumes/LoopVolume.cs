using System.Globalization;

namespace Grid.Agent.Runtimes.Volumes;

/// <summary>One volume as remembered in the agent's state file.</summary>
/// <param name="WorkloadId">The <c>volume</c> workload.</param>
/// <param name="Epoch">Placement epoch it was made for.</param>
/// <param name="ReservationId">Reservation whose containers mount it.</param>
/// <param name="Name">The volume's name (the workload's name).</param>
/// <param name="Size">Its size in bytes.</param>
/// <param name="Folder">Its folder: the image <c>volume.img</c> and the mount folder <c>mnt</c>.</param>
internal sealed record VolumeEntry(long WorkloadId, long Epoch, long ReservationId, string Name, long Size, string Folder)
{
    /// <summary>The instance.</summary>
    public WorkloadKey Key => new(WorkloadId, Epoch);

    /// <summary>The ext4 image file.</summary>
    public string Image => Path.Combine(Folder, LoopVolume.ImageName);

    /// <summary>Where the filesystem is mounted.</summary>
    public string MountPath => Path.Combine(Folder, LoopVolume.MountName);
}

/// <summary>
/// An ext4 filesystem in a file on a loop device: the kernel stops writes at its size (ENOSPC inside, nothing
/// outside). Made and taken apart with the field's tools (<c>mkfs.ext4</c>, <c>losetup</c>, <c>mount</c>). Volumes and
/// containers' writable layers both live in one: a folder holding the image <see cref="ImageName"/> and its mount
/// folder <see cref="MountName"/>.
/// </summary>
internal static class LoopVolume
{
    /// <summary>Name of the image file in a volume's folder.</summary>
    public const string ImageName = "volume.img";

    /// <summary>Name of the mount folder in a volume's folder.</summary>
    public const string MountName = "mnt";

    /// <summary>The smallest filesystem made (mkfs.ext4 needs room for its metadata and journal).</summary>
    public const long SmallestSize = 1L << 20;

    /// <summary>Makes <paramref name="volume"/>'s filesystem and mounts it.</summary>
    public static Task CreateAsync(VolumeEntry volume, int rootOwner, CancellationToken cancellationToken) =>
        CreateAsync(volume.Folder, volume.Size, rootOwner, cancellationToken);

    /// <summary>
    /// Makes the filesystem in a sparse image of exactly <paramref name="size"/> bytes in <paramref name="folder"/>,
    /// its root owned by <paramref name="rootOwner"/> (the container's mapped root), and mounts it.
    /// </summary>
    public static async Task CreateAsync(string folder, long size, int rootOwner, CancellationToken cancellationToken)
    {
        var imagePath = Path.Combine(folder, ImageName);
        Directory.CreateDirectory(Path.Combine(folder, MountName));
        using (var image = new FileStream(imagePath, FileMode.CreateNew, FileAccess.Write))
        {
            // Sparse: space is taken as the tenant writes, and the free-space check before covers the whole size.
            image.SetLength(size);
        }

        var owner = rootOwner.ToString(CultureInfo.InvariantCulture);

        // -m 0: no blocks reserved for root (the tenant paid for all of them); -i 32768: fewer inode tables, so the
        // usable space is close to the size; no lazy init, so no background writer keeps the device busy after mount.
        await HostCommand.CheckedAsync(
            "mkfs.ext4",
            ["-q", "-F", "-m", "0", "-i", "32768", "-E", $"lazy_itable_init=0,lazy_journal_init=0,root_owner={owner}:{owner}", imagePath],
            cancellationToken);
        await MountAsync(folder, cancellationToken);
    }

    /// <summary>Attaches <paramref name="volume"/>'s existing image to a free loop device and mounts it.</summary>
    public static Task MountAsync(VolumeEntry volume, CancellationToken cancellationToken) => MountAsync(volume.Folder, cancellationToken);

    /// <summary>Attaches the existing image in <paramref name="folder"/> to a free loop device and mounts it (after a host reboot too).</summary>
    public static async Task MountAsync(string folder, CancellationToken cancellationToken)
    {
        var mountPath = Path.Combine(folder, MountName);
        Directory.CreateDirectory(mountPath);
        var device = (await HostCommand.CheckedAsync("losetup", ["--find", "--show", Path.Combine(folder, ImageName)], cancellationToken)).Trim();
        try
        {
            await HostCommand.CheckedAsync("mount", ["-t", "ext4", "-o", "nodev,nosuid", device, mountPath], cancellationToken);
        }
        catch
        {
            await HostCommand.RunAsync("losetup", ["-d", device], CancellationToken.None);
            throw;
        }
    }

    /// <summary>Whether the volume's filesystem is mounted where it should be.</summary>
    public static bool IsMounted(VolumeEntry volume) => MountTable.At(volume.MountPath) is not null;

    /// <summary>
    /// Unmounts (lazily when a process still holds it, so it goes with the last one), detaches every loop device
    /// of the image and deletes the folder: the space is free again. Nothing when already gone.
    /// </summary>
    public static async Task RemoveAsync(string folder)
    {
        var mountPath = Path.Combine(folder, MountName);
        while (MountTable.At(mountPath) is not null)
        {
            var result = await HostCommand.RunAsync("umount", [mountPath]);
            if (!result.Succeeded && (await HostCommand.RunAsync("umount", ["-l", mountPath])).Succeeded is false)
            {
                throw new HostCommandException($"cannot unmount {mountPath}: {result.Error.Trim()}");
            }
        }

        var image = Path.Combine(folder, ImageName);
        if (File.Exists(image))
        {
            foreach (var device in await DevicesOfAsync(image))
            {
                // A device still busy (lazy unmount) is set to detach itself when released.
                await HostCommand.RunAsync("losetup", ["-d", device]);
            }
        }

        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The loop devices backed by <paramref name="image"/> (<c>losetup -j</c>).</summary>
    public static async Task<IReadOnlyList<string>> DevicesOfAsync(string image)
    {
        var result = await HostCommand.RunAsync("losetup", ["-j", image]);

        // One line per device: "/dev/loop3: [64769]:1234 (/path/volume.img)".
        return result.Succeeded
            ? [.. result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(':')[0].Trim()).Where(d => d.StartsWith("/dev/", StringComparison.Ordinal))]
            : [];
    }
}
