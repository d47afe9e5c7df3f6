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
            KillQuietly(entry!["pid"]!.GetValue<int>());
        }
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
