using System.Diagnostics;

namespace Grid.Agent.Runtimes.Processes;

/// <summary>Where and as whom a <c>process</c> workload runs: its user (null: the agent's own) and the cgroups it joins.</summary>
internal sealed record WorkloadSandbox(WorkloadUser? User, IReadOnlyList<string> CgroupProcs, string? Cgroup = null);

/// <summary>
/// The unprivileged user <c>process</c> workloads run as. An agent running as root must use one (created on
/// first use when missing); an agent running as another user runs workloads as itself. Never root.
/// </summary>
internal sealed record WorkloadUser(string Name, int Uid, int Gid)
{
    /// <summary>
    /// The user workloads run as when the agent is root: <paramref name="name"/>, created as a system user without
    /// login when missing. Null when the agent is not root (it cannot switch users, and is not root itself).
    /// </summary>
    public static WorkloadUser? Resolve(string name)
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            return null;
        }

        if (Lookup(name) is null)
        {
            Run("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name);
        }

        var user = Lookup(name) ?? throw new InvalidOperationException($"the workload user '{name}' does not exist and could not be created");
        return user.Uid == 0 || user.Gid == 0
            ? throw new InvalidOperationException($"the workload user '{name}' is root (uid or gid 0); workloads never run as root")
            : user;
    }

    private static WorkloadUser? Lookup(string name)
    {
        foreach (var line in File.ReadLines("/etc/passwd"))
        {
            var fields = line.Split(':');
            if (fields.Length >= 4 && fields[0] == name && int.TryParse(fields[2], out var uid) && int.TryParse(fields[3], out var gid))
            {
                return new WorkloadUser(name, uid, gid);
            }
        }

        return null;
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true, UseShellExecute = false })
            ?? throw new InvalidOperationException($"could not run {program}");
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} failed ({process.ExitCode}): {error.Trim()}");
        }
    }
}
