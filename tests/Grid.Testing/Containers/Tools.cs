using System.Diagnostics;

namespace Grid.Testing.Containers;

/// <summary>Runs the container tools (umoci, skopeo, runc, ip) for tests; a failure throws with the tool's output.</summary>
public static class Tools
{
    /// <summary>Runs <paramref name="file"/>; answers its output, or throws when it exits with another code than 0.</summary>
    public static async Task<string> RunAsync(string file, params string[] arguments)
    {
        var (code, output) = await RunRawAsync(file, arguments);
        return code == 0 ? output : throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({code}): {output}");
    }

    /// <summary>
    /// The ids <c>runc list</c> shows on this machine. It fails when a container it found is deleted before it reads
    /// its state (an agent removing a stopped copy meanwhile: "stat /run/runc/…: no such file or directory"); it is
    /// listed again then, at most five times.
    /// </summary>
    public static async Task<IReadOnlyList<string>> RuncListAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return (await RunAsync("runc", "list", "--quiet")).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            }
            catch (InvalidOperationException e) when (attempt < 5 && e.Message.Contains("no such file or directory", StringComparison.Ordinal))
            {
                // A container removed between runc's listing and its stat: the next listing no longer has it.
            }
        }
    }

    /// <summary>Runs <paramref name="file"/> for cleanup: its failure (nothing left to remove) is no error.</summary>
    public static async Task TryRunAsync(string file, params string[] arguments) => await RunRawAsync(file, arguments);

    private static async Task<(int Code, string Output)> RunRawAsync(string file, string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
