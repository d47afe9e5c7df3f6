namespace Grid.Agent.Runtimes.Containers;

// How the cache stays within its size and leaves the disk room for pulls: unused images go, least recently used first.
internal sealed partial class ImageStore
{
    /// <summary>Bytes the cached images take.</summary>
    public long Size() => All().Sum(i => i.Size);

    /// <summary>What the agent reports in its heartbeats: the bytes the cache takes and the most it may take.</summary>
    public ImageCacheUsage Usage() => new(Size(), maxBytes);

    /// <summary>Removes unused images, least recently used first, until the cache fits its size; answers their digests' hex.</summary>
    public IReadOnlyList<string> Evict(IReadOnlySet<string> inUse)
    {
        var removed = new List<string>();
        var images = All().OrderBy(i => i.LastUsed).ToList();
        var total = images.Sum(i => i.Size);
        foreach (var image in images.Where(i => !inUse.Contains(i.Hex)))
        {
            if (total <= maxBytes)
            {
                break;
            }

            if (TryRemove(image))
            {
                total -= image.Size;
                removed.Add(image.Hex);
            }
        }

        return removed;
    }

    /// <summary>
    /// Removes unused images, least recently used first, until the disk under the cache has <paramref name="needed"/>
    /// bytes free (by statvfs, so whatever else fills the disk counts); answers how many went.
    /// </summary>
    public int MakeRoom(long needed, IReadOnlySet<string> inUse)
    {
        var removed = 0;
        foreach (var image in All().OrderBy(i => i.LastUsed).Where(i => !inUse.Contains(i.Hex)))
        {
            if (FreeBytes() >= needed)
            {
                break;
            }

            removed += TryRemove(image) ? 1 : 0;
        }

        return removed;
    }

    /// <summary>Bytes free for the agent on the disk under the cache.</summary>
    public long FreeBytes()
    {
        Directory.CreateDirectory(root);
        return new DriveInfo(root).AvailableFreeSpace;
    }

    /// <summary>What a pull is expected to take: as much as the largest image here (the node's images are alike more often than not).</summary>
    private long Largest() => All().Select(i => i.Size).DefaultIfEmpty(0).Max();

    /// <summary>Removes an image no pull or hand-out holds at this moment; false when one does.</summary>
    private bool TryRemove(CachedImage image)
    {
        var gate = _locks.GetOrAdd(image.Hex, _ => new SemaphoreSlim(1, 1));
        if (!gate.Wait(0))
        {
            return false;
        }

        try
        {
            Directory.Delete(Path.Combine(root, image.Hex), recursive: true);
            return true;
        }
        finally
        {
            gate.Release();
        }
    }

    private ImagePullException NoSpace(ImageReference reference, IReadOnlySet<string> inUse) =>
        new(WorkloadReasons.NoSpace,
            $"no space left on the node's disk for image {reference.Digest}: {FreeBytes()} bytes free; the {All().Count(i => inUse.Contains(i.Hex))} image(s) in use stay cached");

    private static bool IsNoSpace(string text) => text.Contains("no space left on device", StringComparison.OrdinalIgnoreCase);
}
