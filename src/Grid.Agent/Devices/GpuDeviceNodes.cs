using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Grid.Agent.Devices;

/// <summary>A character device of the host a container is given: its path and numbers.</summary>
internal sealed record DeviceNode(string Path, long Major, long Minor);

/// <summary>
/// The device nodes of a reservation's GPUs and their place in a container's runc <c>config.json</c>: each in
/// <c>linux.devices</c> (runc makes or binds it) and allowed in the cgroup's device rules (<c>linux.resources.devices</c>,
/// read, write, mknod). Only nodes that exist on the host are given: a machine without the GPU (like the test machines)
/// passes the ids in <c>GRID_GPU_IDS</c> only.
/// </summary>
internal static class GpuDeviceNodes
{
    /// <summary>NVIDIA's character device major number (<c>/dev/nvidia0</c> is 195:0, <c>/dev/nvidiactl</c> 195:255).</summary>
    private const long NvidiaMajor = 195;

    /// <summary>Adds <paramref name="nodes"/> to the <c>linux</c> object of a runc config (after its resources are set).</summary>
    public static void Apply(JsonObject linux, ImmutableArray<DeviceNode> nodes)
    {
        if (nodes.IsDefaultOrEmpty)
        {
            return;
        }

        var devices = linux["devices"] as JsonArray ?? [];
        var resources = linux["resources"] as JsonObject ?? [];
        var rules = resources["devices"] as JsonArray ?? [];
        foreach (var node in nodes)
        {
            devices.Add(new JsonObject
            {
                ["path"] = node.Path,
                ["type"] = "c",
                ["major"] = node.Major,
                ["minor"] = node.Minor,
                ["fileMode"] = 438, // 0666: the container's user (a mapped uid) opens it
                ["uid"] = 0,
                ["gid"] = 0,
            });
            rules.Add(new JsonObject { ["allow"] = true, ["type"] = "c", ["major"] = node.Major, ["minor"] = node.Minor, ["access"] = "rwm" });
        }

        linux["devices"] = devices;
        resources["devices"] = rules;
        linux["resources"] = resources;
    }

    /// <summary>
    /// The host's device nodes of the GPUs with <paramref name="gpuIds"/> (PCI addresses): the DRM nodes sysfs lists
    /// for each (<c>/dev/dri/card0</c>, <c>/dev/dri/renderD128</c>) and, for NVIDIA's driver, <c>/dev/nvidiaN</c> and
    /// <c>/dev/nvidiactl</c>. Nothing for an id the host does not have.
    /// </summary>
    public static ImmutableArray<DeviceNode> OnHost(IEnumerable<string> gpuIds, string sys = "/sys", string proc = "/proc", string dev = "/dev")
    {
        var nodes = new List<DeviceNode>();
        foreach (var id in gpuIds)
        {
            var drm = Path.Combine(sys, "bus", "pci", "devices", id, "drm");
            if (Directory.Exists(drm))
            {
                foreach (var name in Directory.EnumerateDirectories(drm).Select(Path.GetFileName).Order(StringComparer.Ordinal))
                {
                    if (ReadNumbers(Path.Combine(drm, name!, "dev")) is { } numbers && File.Exists(Path.Combine(dev, "dri", name!)))
                    {
                        nodes.Add(new DeviceNode($"/dev/dri/{name}", numbers.Major, numbers.Minor));
                    }
                }
            }

            var information = Path.Combine(proc, "driver", "nvidia", "gpus", id, "information");
            if (File.Exists(information) && NvidiaMinor(File.ReadLines(information)) is { } minor && File.Exists(Path.Combine(dev, $"nvidia{minor}")))
            {
                nodes.Add(new DeviceNode($"/dev/nvidia{minor}", NvidiaMajor, minor));
                if (File.Exists(Path.Combine(dev, "nvidiactl")) && !nodes.Any(n => n.Path == "/dev/nvidiactl"))
                {
                    nodes.Add(new DeviceNode("/dev/nvidiactl", NvidiaMajor, 255));
                }
            }
        }

        return [.. nodes];
    }

    /// <summary>The <c>Device Minor:</c> line of NVIDIA's <c>/proc/driver/nvidia/gpus/&lt;id&gt;/information</c>.</summary>
    public static long? NvidiaMinor(IEnumerable<string> information) =>
        information.Select(l => l.Split(':', 2, StringSplitOptions.TrimEntries))
            .Where(p => p.Length == 2 && p[0] == "Device Minor")
            .Select(p => long.TryParse(p[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor) ? minor : (long?)null)
            .FirstOrDefault();

    private static (long Major, long Minor)? ReadNumbers(string path)
    {
        var parts = File.Exists(path) ? File.ReadAllText(path).Trim().Split(':') : [];
        return parts.Length == 2 && long.TryParse(parts[0], CultureInfo.InvariantCulture, out var major) && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var minor)
            ? (major, minor)
            : null;
    }
}
