using System.Text.Json;
using Grid.Client;

namespace Grid.Agent.Runtimes.Processes;

/// <summary>One child process the agent started, as remembered on disk.</summary>
/// <param name="WorkloadId">Workload the process runs.</param>
/// <param name="Epoch">Placement epoch it was started for.</param>
/// <param name="Pid">Operating-system process id.</param>
/// <param name="StartMarker">Start time of the process, so a reused PID is never taken for ours.</param>
/// <param name="ProcessGroup">Whether the process leads its own process group (signals go to the group).</param>
public sealed record PidEntry(long WorkloadId, long Epoch, int Pid, string StartMarker, bool ProcessGroup)
{
    /// <summary>The name of its cgroups; null in a file of an agent before 0.5.0, which named them by node and workload only.</summary>
    public string? Cgroup { get; init; }
}

/// <summary>
/// The agent's record of the processes it started (<c>&lt;workdir&gt;/pids.json</c>): after a crash the next agent
/// re-adopts the ones still alive instead of starting second copies.
/// </summary>
public static class PidFile
{
    /// <summary>Name of the PID file inside the work directory.</summary>
    public const string FileName = "pids.json";

    /// <summary>The remembered processes; empty when there is no file or it cannot be read.</summary>
    public static IReadOnlyList<PidEntry> Load(string workDir)
    {
        var path = Path.Combine(workDir, FileName);
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            return JsonSerializer.Deserialize<List<PidEntry>>(File.ReadAllText(path), GridJson.Options) ?? [];
        }
        catch (JsonException)
        {
            // A damaged file must not keep the agent from starting; its orphans are then unknown.
            return [];
        }
    }

    /// <summary>Replaces the file atomically with <paramref name="entries"/>.</summary>
    public static void Save(string workDir, IEnumerable<PidEntry> entries)
    {
        Directory.CreateDirectory(workDir);
        AtomicFile.WriteAllText(Path.Combine(workDir, FileName), JsonSerializer.Serialize(entries.ToList(), GridJson.Indented));
    }
}
