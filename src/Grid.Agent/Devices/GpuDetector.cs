using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;

namespace Grid.Agent.Devices;

/// <summary>
/// Finds the machine's GPUs: the display-class PCI devices under <c>/sys/bus/pci/devices</c> (class <c>0x03xxxx</c>, not
/// the boot display),
/// named from the PCI ID database (<c>pci.ids</c>) where it is installed, and the names and memory <c>nvidia-smi</c>
/// reports where it runs. The parsing is pure (<see cref="ParsePciIds"/>, <see cref="ParseNvidiaSmi"/>) and tested.
/// </summary>
internal static class GpuDetector
{
    private static readonly string[] PciIdsFiles = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids"];

    /// <summary>The GPUs of this machine (none when it has none or nothing can be read).</summary>
    public static async Task<ImmutableArray<GpuDevice>> DetectAsync(string sysPci = "/sys/bus/pci/devices", CancellationToken cancellationToken = default)
    {
        var found = new List<(string Id, string Vendor, string Device)>();
        if (Directory.Exists(sysPci))
        {
            foreach (var dir in Directory.EnumerateDirectories(sysPci).Order(StringComparer.Ordinal))
            {
                // The display the machine boots on (its console: often a BMC's or a hypervisor's emulated VGA) is not handed out.
                if (Read(Path.Combine(dir, "class")) is { } cls && cls.StartsWith("0x03", StringComparison.Ordinal)
                    && Read(Path.Combine(dir, "boot_vga")) != "1"
                    && Read(Path.Combine(dir, "vendor")) is { } vendor && Read(Path.Combine(dir, "device")) is { } device)
                {
                    found.Add((Path.GetFileName(dir), Hex(vendor), Hex(device)));
                }
            }
        }

        if (found.Count == 0)
        {
            return [];
        }

        var names = PciIdsFiles.FirstOrDefault(File.Exists) is { } file
            ? ParsePciIds(File.ReadLines(file), found.Select(f => (f.Vendor, f.Device)).ToHashSet())
            : new Dictionary<(string, string), (string, string)>();
        var gpus = found.Select(f => names.TryGetValue((f.Vendor, f.Device), out var name)
            ? new GpuDevice(f.Id, name.Item1, name.Item2, 0)
            : new GpuDevice(f.Id, f.Vendor, f.Device, 0)).ToList();
        var smi = ParseNvidiaSmi(await NvidiaSmiAsync(cancellationToken));
        return [.. gpus.Select(g => smi.TryGetValue(g.Id, out var nvidia) ? g with { Device = nvidia.Name, Memory = nvidia.MemoryMib } : g)];
    }

    /// <summary>
    /// Vendor and device names of the wanted (vendor, device) hex ids from <c>pci.ids</c> lines: a vendor line is
    /// <c>10de  NVIDIA Corporation</c>, its devices follow indented by one tab (<c>\t20b0  GA100 [A100 PCIe 40GB]</c>).
    /// </summary>
    public static Dictionary<(string Vendor, string Device), (string Vendor, string Device)> ParsePciIds(
        IEnumerable<string> lines, IReadOnlySet<(string Vendor, string Device)> wanted)
    {
        var names = new Dictionary<(string, string), (string, string)>();
        var vendors = wanted.Select(w => w.Vendor).ToHashSet(StringComparer.Ordinal);
        string? vendor = null;
        string? vendorName = null;
        foreach (var line in lines)
        {
            if (line.Length < 7 || line[0] == '#')
            {
                continue;
            }

            if (line[0] != '\t')
            {
                // Device classes (C lines) come after every vendor: nothing to read past them.
                if (line.StartsWith("C ", StringComparison.Ordinal))
                {
                    break;
                }

                vendor = line[..4].ToLowerInvariant();
                vendorName = vendors.Contains(vendor) ? line[4..].Trim() : null;
            }
            else if (line[1] != '\t' && vendorName is not null && wanted.Contains((vendor!, line.Substring(1, 4).ToLowerInvariant())))
            {
                names[(vendor!, line.Substring(1, 4).ToLowerInvariant())] = (vendorName, line[5..].Trim());
            }
        }

        return names;
    }

    /// <summary>
    /// The GPUs of <c>nvidia-smi --query-gpu=pci.bus_id,name,memory.total --format=csv,noheader,nounits</c> by PCI
    /// address as sysfs names it (<c>00000000:01:00.0</c> → <c>0000:01:00.0</c>).
    /// </summary>
    public static Dictionary<string, (string Name, long MemoryMib)> ParseNvidiaSmi(string? output)
    {
        var gpus = new Dictionary<string, (string, long)>(StringComparer.Ordinal);
        foreach (var line in (output ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(',', StringSplitOptions.TrimEntries);
            if (parts.Length >= 3 && parts[0].Length >= 12 && long.TryParse(parts[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var memory))
            {
                gpus[parts[0][^12..].ToLowerInvariant()] = (parts[1], memory);
            }
        }

        return gpus;
    }

    private static async Task<string?> NvidiaSmiAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var smi = Process.Start(new ProcessStartInfo("nvidia-smi", "--query-gpu=pci.bus_id,name,memory.total --format=csv,noheader,nounits")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (smi is null)
            {
                return null;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            var output = await smi.StandardOutput.ReadToEndAsync(timeout.Token);
            await smi.WaitForExitAsync(timeout.Token);
            return smi.ExitCode == 0 ? output : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or OperationCanceledException or InvalidOperationException)
        {
            // Not installed (the common case) or stuck: the names from sysfs stand.
            return null;
        }
    }

    private static string? Read(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // sysfs writes 0x10de; pci.ids writes 10de.
    private static string Hex(string value) => (value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? value[2..] : value).ToLowerInvariant();
}
