using System.Diagnostics;

namespace Grid.Agent.Tests;

/// <summary>
/// A throwaway agent work directory. Disposing it kills every process it ever saw in the PID file (by PID and
/// start time, so never a stranger) and deletes the folder.
/// </summary>
internal sealed class TestWorkDir : IDisposable
{
    private readonly HashSet<PidEntry> _seen = [];

    public string Path { get; } = Directory.CreateTempSubdirectory("grid-agent-test-").FullName;

    /// <summary>The processes the agent remembers right now; remembered here too for cleanup.</summary>
    public IReadOnlyList<PidEntry> Pids()
    {
        var entries = PidFile.Load(Path);
        lock (_seen)
        {
            _seen.UnionWith(entries);
        }

        return entries;
    }

    public string WorkloadFolder(long workloadId, long epoch) => System.IO.Path.Combine(Path, "workloads", $"{workloadId}-e{epoch}");

    public void Dispose()
    {
        Pids();
        foreach (var entry in _seen)
        {
            if (ProcessProbe.IsAlive(entry.Pid, entry.StartMarker))
            {
                using var process = Process.GetProcessById(entry.Pid);
                process.Kill(entireProcessTree: true);
            }
        }

        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A killed workload may still be closing its log file; the temp folder is harmless.
        }
    }
}
