using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Grid.Agent.Runtimes.Processes;

/// <summary>Identifies and signals operating-system processes by PID without mistaking a reused PID for ours.</summary>
internal static partial class ProcessProbe
{
    public const int SigKill = 9;
    public const int SigTerm = 15;

    /// <summary>
    /// A value that differs between two processes that ever had the same PID: the start time in clock ticks
    /// since boot from <c>/proc/&lt;pid&gt;/stat</c>. Null when the process is gone or a zombie.
    /// </summary>
    public static string? StartMarker(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            string stat;
            try
            {
                stat = File.ReadAllText($"/proc/{pid}/stat");
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }

            // The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[0] is "Z" or "X" ? null : fields[19];
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited ? null : process.StartTime.ToUniversalTime().Ticks.ToString(CultureInfo.InvariantCulture);
        }
        catch (ArgumentException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>True while the process <paramref name="pid"/> that started at <paramref name="marker"/> lives.</summary>
    public static bool IsAlive(int pid, string marker) => StartMarker(pid) == marker;

    /// <summary>Sends <paramref name="signal"/> to a process, or to its whole process group when <paramref name="group"/>.</summary>
    public static void Signal(int pid, bool group, int signal)
    {
        if (OperatingSystem.IsWindows())
        {
            if (signal == SigKill)
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                }
                catch (ArgumentException)
                {
                    // Already gone.
                }
            }

            return;
        }

        // ESRCH (already gone) is the expected outcome of racing an exiting process: ignore the result.
        _ = Kill(group ? -pid : pid, signal);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
