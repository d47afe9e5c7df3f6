using System.ComponentModel;
using System.Diagnostics;

namespace Grid.Agent.Runtimes;

/// <summary>What a host tool (<c>ip</c>, <c>losetup</c>, <c>mount</c> …) answered.</summary>
/// <param name="ExitCode">Its exit code.</param>
/// <param name="Output">Its standard output.</param>
/// <param name="Error">Its standard error, for the message of a failure.</param>
internal sealed record HostCommandResult(int ExitCode, string Output, string Error)
{
    /// <summary>Whether the tool succeeded.</summary>
    public bool Succeeded => ExitCode == 0;
}

/// <summary>A host tool failed, or is not installed; the message names the command and what it said.</summary>
internal sealed class HostCommandException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

/// <summary>
/// Runs the field's tools on the host (never through a shell: arguments are passed as they are) and waits for them,
/// so the agent's volumes and networks are made exactly as an operator would make them by hand.
/// </summary>
internal static class HostCommand
{
    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="args"/>, <paramref name="input"/> (if any) on its standard input;
    /// a tool that cannot be started throws <see cref="HostCommandException"/>.
    /// </summary>
    public static async Task<HostCommandResult> RunAsync(string file, IEnumerable<string> args, CancellationToken cancellationToken = default, string? input = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new HostCommandException($"'{file}' cannot be run here ({e.Message}); is it installed?", e);
        }

        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken);
        }

        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // A tool left running would keep its device or namespace busy.
            process.Kill(entireProcessTree: true);
            throw;
        }

        return new HostCommandResult(process.ExitCode, await output, await error);
    }

    /// <summary>Runs the tool and answers its output; a non-zero exit throws <see cref="HostCommandException"/> with what it said.</summary>
    public static async Task<string> CheckedAsync(string file, IEnumerable<string> args, CancellationToken cancellationToken = default, string? input = null)
    {
        var list = args.ToList();
        var result = await RunAsync(file, list, cancellationToken, input);
        return result.Succeeded
            ? result.Output
            : throw new HostCommandException($"'{file} {string.Join(' ', list)}' failed with exit code {result.ExitCode}: {result.Error.Trim()}");
    }

    /// <summary>Where <paramref name="tool"/> is found on the PATH (or the usual sbin folders, which a non-login PATH may lack); null when missing.</summary>
    public static string? Find(string tool)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);
    }
}
