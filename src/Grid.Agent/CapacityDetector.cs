using System.Globalization;

namespace Grid.Agent;

/// <summary>Measures the capacity of the machine the agent runs on.</summary>
public static class CapacityDetector
{
    /// <summary>
    /// Logical cores available to this process, RAM from <c>/proc/meminfo</c> (MemTotal), the size of the disk
    /// holding <paramref name="workDir"/> as SSD capacity, and no HDD capacity.
    /// </summary>
    public static Capacity Detect(string workDir)
    {
        Directory.CreateDirectory(workDir);
        return new Capacity(Environment.ProcessorCount, MemoryBytes(), DiskBytes(workDir), 0);
    }

    /// <summary>Total RAM in bytes: MemTotal of <c>/proc/meminfo</c>, or what the runtime sees elsewhere.</summary>
    public static long MemoryBytes()
    {
        const string meminfo = "/proc/meminfo";
        if (File.Exists(meminfo) && ParseMemTotal(File.ReadAllText(meminfo)) is { } bytes)
        {
            return bytes;
        }

        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    /// <summary>Size in bytes of the file system holding <paramref name="path"/>.</summary>
    public static long DiskBytes(string path) => new DriveInfo(Path.GetFullPath(path)).TotalSize;

    /// <summary>The <c>MemTotal</c> line of a <c>/proc/meminfo</c> text, in bytes; null when absent.</summary>
    public static long? ParseMemTotal(string meminfo)
    {
        foreach (var line in meminfo.Split('\n'))
        {
            if (!line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                continue;
            }

            var parts = line["MemTotal:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return null;
            }

            // The kernel writes "kB" but means KiB.
            var unit = parts.Length > 1 ? parts[1] : "B";
            return unit.Equals("kB", StringComparison.OrdinalIgnoreCase) ? value * 1024 : value;
        }

        return null;
    }
}
