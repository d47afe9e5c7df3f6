using System.Globalization;

namespace Grid.Agent.Runtimes.Processes;

/// <summary>
/// Holds each <c>process</c> workload to its reserved CPU and memory through cgroups: one cgroup per workload
/// under <c>grid/</c>, in cgroup v2 when its mount offers the memory and cpu controllers, otherwise in the v1
/// memory and cpu hierarchies. Controllers are detected, not mount types: a v2 mount without memory/cpu (a
/// hybrid host) is passed over for v1. <see cref="Unavailable"/> says why when neither can be written.
/// </summary>
internal sealed class CgroupLimits
{
    private const long CpuPeriodMicros = 100_000;

    private readonly string? _v2;
    private readonly string? _v1Memory;
    private readonly string? _v1Cpu;

    private CgroupLimits(string? v2, string? v1Memory, string? v1Cpu, string? unavailable)
    {
        _v2 = v2;
        _v1Memory = v1Memory;
        _v1Cpu = v1Cpu;
        Unavailable = unavailable;
    }

    /// <summary>Why limits cannot be enforced on this machine, or null when they can.</summary>
    public string? Unavailable { get; }

    /// <summary>Which cgroup version and folders hold the limits.</summary>
    public string Describe() => _v2 is not null ? $"cgroup v2 at {_v2}" : $"cgroup v1 at {_v1Memory} and {_v1Cpu}";

    /// <summary>Finds writable cgroup controllers from <c>/proc/self/mountinfo</c>.</summary>
    public static CgroupLimits Detect(string mountInfo = "/proc/self/mountinfo")
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(mountInfo))
        {
            return new(null, null, null, "cgroups exist only on Linux");
        }

        string? v2 = null, memory = null, cpu = null;
        foreach (var line in File.ReadLines(mountInfo))
        {
            // "... mountpoint options - fstype source superoptions"
            var fields = line.Split(' ');
            var dash = Array.IndexOf(fields, "-");
            if (dash < 5 || dash + 3 >= fields.Length)
            {
                continue;
            }

            var point = fields[4];
            var type = fields[dash + 1];
            var options = fields[dash + 3].Split(',');
            if (type == "cgroup2" && ReadControllers(point) is { } controllers && controllers.Contains("memory") && controllers.Contains("cpu"))
            {
                v2 ??= point;
            }
            else if (type == "cgroup")
            {
                memory ??= options.Contains("memory") ? point : null;
                cpu ??= options.Contains("cpu") ? point : null;
            }
        }

        if (v2 is not null && TryPrepare(Path.Combine(v2, "grid"), v2))
        {
            return new(Path.Combine(v2, "grid"), null, null, null);
        }

        if (memory is not null && cpu is not null && TryPrepare(Path.Combine(memory, "grid"), null) && TryPrepare(Path.Combine(cpu, "grid"), null))
        {
            return new(null, Path.Combine(memory, "grid"), Path.Combine(cpu, "grid"), null);
        }

        return new(null, null, null,
            $"no writable cgroup with memory and cpu controllers (v2: {v2 ?? "none with memory+cpu"}, v1 memory: {memory ?? "none"}, v1 cpu: {cpu ?? "none"}); " +
            "run the agent as root, or delegate a cgroup to its user");
    }

    /// <summary>
    /// Makes the workload's cgroups with its limits; answers the <c>cgroup.procs</c> files the workload must
    /// join before it runs. A zero amount leaves that resource unlimited.
    /// </summary>
    public IReadOnlyList<string> Create(string name, long cru, long mruBytes)
    {
        var groups = new List<string>();
        if (_v2 is not null)
        {
            var dir = Directory.CreateDirectory(Path.Combine(_v2, name)).FullName;
            if (mruBytes > 0)
            {
                Write(dir, "memory.max", mruBytes);
                TryWrite(dir, "memory.swap.max", "0");
            }

            if (cru > 0)
            {
                File.WriteAllText(Path.Combine(dir, "cpu.max"), $"{cru * CpuPeriodMicros} {CpuPeriodMicros}");
            }

            groups.Add(Path.Combine(dir, "cgroup.procs"));
            return groups;
        }

        var memory = Directory.CreateDirectory(Path.Combine(_v1Memory!, name)).FullName;
        // The kernel refuses a memory limit above the memory+swap limit (EINVAL), and a cgroup of this name may be
        // left with a smaller one (an agent restart, an earlier epoch's size): lift memory+swap first.
        TryWrite(memory, "memory.memsw.limit_in_bytes", "-1");
        Write(memory, "memory.limit_in_bytes", mruBytes > 0 ? mruBytes : -1);
        if (mruBytes > 0)
        {
            // Swap would let a workload outgrow its memory; only settable when swap accounting is on.
            TryWrite(memory, "memory.memsw.limit_in_bytes", mruBytes.ToString(CultureInfo.InvariantCulture));
        }

        var cpu = Directory.CreateDirectory(Path.Combine(_v1Cpu!, name)).FullName;
        if (cru > 0)
        {
            Write(cpu, "cpu.cfs_period_us", CpuPeriodMicros);
            Write(cpu, "cpu.cfs_quota_us", cru * CpuPeriodMicros);
        }

        groups.Add(Path.Combine(memory, "cgroup.procs"));
        groups.Add(Path.Combine(cpu, "cgroup.procs"));
        return groups;
    }

    /// <summary>True when the kernel killed a process of the workload's cgroup for exceeding its memory limit.</summary>
    public bool WasOomKilled(string name)
    {
        var events = _v2 is not null ? Path.Combine(_v2, name, "memory.events") : Path.Combine(_v1Memory!, name, "memory.oom_control");
        return File.Exists(events) && File.ReadLines(events).Any(line =>
            line.StartsWith("oom_kill ", StringComparison.Ordinal) && line["oom_kill ".Length..].Trim() != "0");
    }

    /// <summary>Removes the workload's cgroups once its processes are gone (a cgroup with processes stays).</summary>
    public void Remove(string name)
    {
        foreach (var root in new[] { _v2, _v1Memory, _v1Cpu }.OfType<string>())
        {
            try
            {
                Directory.Delete(Path.Combine(root, name));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Still populated or already gone: the next agent start or the kernel tidies it.
            }
        }
    }

    private static HashSet<string>? ReadControllers(string mountPoint)
    {
        var file = Path.Combine(mountPoint, "cgroup.controllers");
        return File.Exists(file) ? [.. File.ReadAllText(file).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)] : null;
    }

    /// <summary>Creates the agent's parent cgroup; in v2 also lets its children use the memory and cpu controllers.</summary>
    private static bool TryPrepare(string dir, string? v2Root)
    {
        try
        {
            Directory.CreateDirectory(dir);
            if (v2Root is not null)
            {
                File.WriteAllText(Path.Combine(v2Root, "cgroup.subtree_control"), "+memory +cpu");
                File.WriteAllText(Path.Combine(dir, "cgroup.subtree_control"), "+memory +cpu");
            }

            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void Write(string dir, string file, long value) =>
        File.WriteAllText(Path.Combine(dir, file), value.ToString(CultureInfo.InvariantCulture));

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
