namespace Grid.Testing.Containers;

/// <summary>
/// Removes what agents killed with -9 leave behind (their containers keep running): the runc containers of given
/// workloads (<c>grid-n&lt;node&gt;-w&lt;workload&gt;-e&lt;epoch&gt;</c>), the mounts under the run's folder and the pods'
/// network namespaces (<c>grid-n&lt;node&gt;-r&lt;reservation&gt;-e&lt;epoch&gt;</c>; their veths go with them). Only
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
        foreach (var id in containers.Where(c => nodeIds.Any(n => workloadIds.Any(w => c.StartsWith($"grid-n{n}-w{w}-", StringComparison.Ordinal)))))
        {
            await Tools.TryRunAsync("runc", "delete", "-f", id);
        }

        // Deepest first: a container's root file system before what it is stacked on.
        var mounts = File.ReadLines("/proc/mounts").Select(line => line.Split(' ')[1]).Where(m => m.StartsWith(root + "/", StringComparison.Ordinal));
        foreach (var mount in mounts.Reverse())
        {
            await Tools.TryRunAsync("umount", "-l", mount);
        }

        var namespaces = (await Tools.RunAsync("ip", "netns", "list")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(' ')[0]);
        foreach (var ns in namespaces.Where(n => nodeIds.Any(node => reservationIds.Any(r => n.StartsWith($"grid-n{node}-r{r}-", StringComparison.Ordinal)))))
        {
            await Tools.TryRunAsync("ip", "netns", "delete", ns);
        }
    }
}
