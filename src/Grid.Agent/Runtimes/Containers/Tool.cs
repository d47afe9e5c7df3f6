using System.ComponentModel;
using System.Diagnostics;

namespace Grid.Agent.Runtimes.Containers;

/// <summary>What a tool run answered: its exit code and its output (stdout, then stderr).</summary>
/// <param name="ExitCode">The exit code; -1 when the tool could not be started.</param>
/// <param name="Output">Standard output followed by standard error, trimmed.</param>
internal sealed record ToolResult(int ExitCode, string Output)
{
    /// <summary>True when the tool exited with 0.</summary>
    public bool Ok => ExitCode == 0;
}

/// <summary>Runs the field's tools (skopeo, umoci, runc, mount) as child processes and waits for them.</summary>
internal static class Tool
{
    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="arguments"/>; cancelling kills it. Never throws for a tool
    /// that fails or is missing: the result says so.
    /// </summary>
    public static async Task<ToolResult> RunAsync(string file, IEnumerable<string> arguments, CancellationToken cancellationToken, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "/",
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new Win32Exception($"could not start {file}");
        }
        catch (Win32Exception e)
        {
            return new ToolResult(-1, $"{file}: {e.Message}");
        }

        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                await process.WaitForExitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
                throw;
            }

            var output = ((await stdout) + (await stderr)).Trim();
            return new ToolResult(process.ExitCode, output);
        }
    }

    /// <summary>True when <paramref name="name"/> is an executable on the PATH.</summary>
    public static bool Exists(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, name)));
}
