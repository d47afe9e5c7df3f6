using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Grid.Testing;

/// <summary>Workload processes of a <c>grid agent</c>: they live in their own process groups and outlive a killed agent.</summary>
public static class AgentWorkloads
{
    /// <summary>Kills every workload process the agent working in <paramref name="workDir"/> recorded (its <c>pids.json</c>).</summary>
    public static async Task KillRecordedAsync(string workDir)
    {
        var pids = Path.Combine(workDir, "pids.json");
        if (!File.Exists(pids))
        {
            return;
        }

        foreach (var entry in JsonNode.Parse(await File.ReadAllTextAsync(pids))!.AsArray())
        {
            // PIDs wrap within minutes on a busy test machine (pid_max 32768): a stale entry's PID may now be another
            // test's silo. Only the process that still has the recorded start time is the agent's workload.
            var pid = entry!["pid"]!.GetValue<int>();
            if (entry["startMarker"]?.GetValue<string>() is { } marker && StartMarker(pid) == marker)
            {
                KillQuietly(pid);
            }
        }
    }

    /// <summary>
    /// The process's start time in clock ticks since boot (field 22 of <c>/proc/&lt;pid&gt;/stat</c>, what the agent
    /// records as its start marker); null when it is gone or a zombie.
    /// </summary>
    public static string? StartMarker(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields[0] is "Z" or "X" ? null : fields[19];
    }

    /// <summary>Kills the process <paramref name="pid"/> and its children, if it still runs.</summary>
    public static void KillQuietly(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill(entireProcessTree: true);
        }
        catch (Exception exception) when (exception is ArgumentException or InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>True while process <paramref name="pid"/> runs (a zombie, waiting to be reaped, does not).</summary>
    public static bool IsAlive(int pid) =>
        File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2].Equals("Z", StringComparison.Ordinal);
}
