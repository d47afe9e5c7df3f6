using System.Globalization;

namespace Grid.Agent.Runtimes.Containers;

/// <summary>
/// The parent cgroup (v1) the agent makes per container instance, <c>grid-containers/&lt;name&gt;</c>, with the memory
/// limit set on it; runc makes the container's own cgroup below it and removes that one when the container ends.
/// The kernel's OOM kill is charged to the cgroup whose limit was hit, the parent, so it can still be read after
/// runc has removed its own (measured: the child's <c>oom_kill</c> counter goes with the child).
/// </summary>
/// <param name="root">The cgroup v1 mount root (<c>/sys/fs/cgroup</c>).</param>
internal sealed class ContainerCgroup(string root = "/sys/fs/cgroup")
{
    private const string Parent = "grid-containers";

    /// <summary>Why memory limits cannot be set here, or null when v1's memory controller is writable.</summary>
    public static string? Unavailable(string root = "/sys/fs/cgroup")
    {
        var probe = Path.Combine(root, "memory", Parent, $"probe-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(probe);
            File.WriteAllText(Path.Combine(probe, "memory.limit_in_bytes"), "67108864");
            Directory.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"the cgroup v1 memory controller at {Path.Combine(root, "memory")} is not writable: {e.Message}";
        }
    }

    /// <summary>runc's <c>cgroupsPath</c> for the container of instance <paramref name="name"/>.</summary>
    public static string RuncPath(string name) => $"/{Parent}/{name}/ctr";

    /// <summary>Makes the parent with <paramref name="memoryBytes"/> as its limit (0: none).</summary>
    public void Create(string name, long memoryBytes)
    {
        var memory = Directory.CreateDirectory(Path.Combine(root, "memory", Parent, name)).FullName;
        if (memoryBytes > 0)
        {
            TryWrite(memory, "memory.memsw.limit_in_bytes", "-1");
            File.WriteAllText(Path.Combine(memory, "memory.limit_in_bytes"), memoryBytes.ToString(CultureInfo.InvariantCulture));

            // Swap would let a container outgrow its memory; only settable when swap accounting is on.
            TryWrite(memory, "memory.memsw.limit_in_bytes", memoryBytes.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>True when the instance's memory limit was hit (the kernel then killed the container, SIGKILL).</summary>
    public bool HitMemoryLimit(string name)
    {
        var dir = Path.Combine(root, "memory", Parent, name);
        // Measured: with memory+swap limited too, neither failcnt counts the kill, but the peak reaches the limit.
        var failures = Read(dir, "memory.failcnt") + Read(dir, "memory.memsw.failcnt");
        var limit = Read(dir, "memory.limit_in_bytes");
        var reached = limit > 0 && Math.Max(Read(dir, "memory.max_usage_in_bytes"), Read(dir, "memory.memsw.max_usage_in_bytes")) >= limit;
        var oom = File.Exists(Path.Combine(dir, "memory.oom_control")) &&
            File.ReadLines(Path.Combine(dir, "memory.oom_control")).Any(l => l.StartsWith("oom_kill ", StringComparison.Ordinal) && l.Trim() != "oom_kill 0");
        return oom || failures > 0 || reached;
    }

    /// <summary>Removes the parent (and a child runc left) in every controller; a cgroup still holding processes stays.</summary>
    public void Remove(string name)
    {
        if (!Directory.Exists(root))
        {
            return;
        }

        foreach (var controller in Directory.EnumerateDirectories(root))
        {
            var dir = Path.Combine(controller, Parent, name);
            foreach (var path in new[] { Path.Combine(dir, "ctr"), dir })
            {
                try
                {
                    if (Directory.Exists(path))
                    {
                        Directory.Delete(path);
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Still populated: runc delete or the next agent start tidies it.
                }
            }
        }
    }

    private static long Read(string dir, string file) =>
        File.Exists(Path.Combine(dir, file)) && long.TryParse(File.ReadAllText(Path.Combine(dir, file)).Trim(), CultureInfo.InvariantCulture, out var value) ? value : 0;

    private static void TryWrite(string dir, string file, string value)
    {
        try
        {
            File.WriteAllText(Path.Combine(dir, file), value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Optional knob missing on this kernel.
        }
    }
}
