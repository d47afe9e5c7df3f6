namespace Grid.Agent.Runtimes.Containers;

/// <summary>What a tool run answered: its exit code and its output (stdout, then stderr).</summary>
/// <param name="ExitCode">The exit code; -1 when the tool could not be started.</param>
/// <param name="Output">Standard output followed by standard error, trimmed.</param>
internal sealed record ToolResult(int ExitCode, string Output)
{
    /// <summary>True when the tool exited with 0.</summary>
    public bool Ok => ExitCode == 0;
}

/// <summary>
/// Runs the field's tools (skopeo, umoci, runc, mount) through <see cref="HostCommand"/>, answering failures instead
/// of throwing: the container runtime maps what the tools said to a workload's reason.
/// </summary>
internal static class Tool
{
    /// <summary>Runs <paramref name="file"/> with <paramref name="arguments"/>; cancelling kills it. A missing tool answers -1.</summary>
    public static async Task<ToolResult> RunAsync(string file, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        try
        {
            var result = await HostCommand.RunAsync(file, arguments, cancellationToken);
            return new ToolResult(result.ExitCode, (result.Output + result.Error).Trim());
        }
        catch (HostCommandException e)
        {
            return new ToolResult(-1, e.Message);
        }
    }

    /// <summary>True when <paramref name="name"/> is installed.</summary>
    public static bool Exists(string name) => HostCommand.Find(name) is not null;
}
