namespace Grid.Testing.Containers;

/// <summary>
/// Removes what agents killed with -9 leave behind (their containers keep running): the runc containers of given
/// workloads (<c>grid-&lt;agent&gt;-n&lt;node&gt;-w&lt;workload&gt;-e&lt;epoch&gt;</c>), the mounts under the run's folder, the loop
/// devices of the volumes there (an agent attaches them without autoclear: unmounting frees none) and the pods'
/// network namespaces (<c>grid-&lt;agent&gt;-n&lt;node&gt;-r&lt;reservation&gt;-e&lt;epoch&gt;</c>; their veths go with them). Only
/// names of the given nodes and workloads are touched: other runs on the machine may use the same node ids.
/// </summary>
public static class ContainerLeftovers
{
    /// <summary>Removes the leftovers of <paramref name="workloads"/> and <paramref name="reservations"/> on <paramref name="nodes"/>, and the mounts under <paramref name="root"/>.</summary>
    public static async Task RemoveAsync(string root, IEnumerable<long> nodes, IEnumerable<long> workloads, IEnumerable<long> reservations)
    {
        var nodeIds = nodes.ToList();
        var workloadIds = workloads.ToList();
        var reservationIds = reservations.ToList();
        var containers = (await Tools.RunAsync("runc", "list", "-q")).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var id in containers.Where(c => nodeIds.Any(n => workloadIds.Any(w => Named(c, n, $"w{w}")))))
        {
            await Tools.TryRunAsync("runc", "delete", "-f", id);
        }

        // Deepest first: a container's root file system before what it is stacked on.
        var mounts = File.ReadLines("/proc/mounts").Select(line => line.Split(' ')[1]).Where(m => m.StartsWith(root + "/", StringComparison.Ordinal));
        foreach (var mount in mounts.Reverse())
        {
            await Tools.TryRunAsync("umount", "-l", mount);
        }

        // A loop device still in use (a lazily unmounted volume) is detached when its last user lets go.
        foreach (var device in LoopDevicesUnder(root))
        {
            await Tools.TryRunAsync("losetup", "-d", device);
        }

        var namespaces = (await Tools.RunAsync("ip", "netns", "list")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(' ')[0]);
        foreach (var ns in namespaces.Where(n => nodeIds.Any(node => reservationIds.Any(r => Named(n, node, $"r{r}")))))
        {
            await Tools.TryRunAsync("ip", "netns", "delete", ns);
        }
    }

    /// <summary>
    /// Whether <paramref name="name"/> is a container id or pod namespace an agent (any agent's: its part is 8 hex digits)
    /// made for node <paramref name="node"/>, and for <paramref name="what"/> (<c>w&lt;workload&gt;</c>, <c>r&lt;reservation&gt;</c>) when given.
    /// </summary>
    public static bool Named(string name, long node, string? what = null) =>
        System.Text.RegularExpressions.Regex.IsMatch(name, what is null ? $"^grid-[0-9a-f]{{8}}-n{node}-" : $"^grid-[0-9a-f]{{8}}-n{node}-{what}-");

    /// <summary>The loop devices whose backing file lies under <paramref name="root"/> (also once that file was deleted).</summary>
    private static IEnumerable<string> LoopDevicesUnder(string root) =>
        Directory.EnumerateFileSystemEntries("/sys/block", "loop*")
            .Where(block => File.Exists(Path.Combine(block, "loop", "backing_file"))
                && File.ReadAllText(Path.Combine(block, "loop", "backing_file")).StartsWith(root + "/", StringComparison.Ordinal))
            .Select(block => "/dev/" + Path.GetFileName(block));
}
