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
