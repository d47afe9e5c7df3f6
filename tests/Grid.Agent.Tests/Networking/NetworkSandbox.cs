using System.Diagnostics;
using Grid.Agent.Runtimes;
using Grid.Agent.Runtimes.Networking;

namespace Grid.Agent.Tests.Networking;

/// <summary>
/// A node id of its own per test (so names never meet another test's or an earlier run's), and on dispose every
/// namespace and veth of that node and every process the test started, gone — whatever the test reached.
/// </summary>
internal sealed class NetworkSandbox : IAsyncDisposable
{
    private readonly List<Process> _processes = [];

    public long NodeId { get; } = Random.Shared.Next(500_000, 999_999);

    public TestWorkDir Dir { get; } = new();

    public AgentOptions Options(int portStart = 42000, int portEnd = 42999) => new()
    {
        ApiUrl = new Uri("http://127.0.0.1:1"),
        NodeId = NodeId,
        NodeKey = "k",
        WorkDir = Dir.Path,
        PortRangeStart = portStart,
        PortRangeEnd = portEnd,
    };

    public static async Task<IReadOnlyList<string>> NamespacesAsync() =>
        [.. (await HostCommand.CheckedAsync("ip", ["netns", "list"])).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0])];

    /// <summary>Starts <paramref name="args"/> inside namespace <paramref name="ns"/> (<c>ip netns exec</c>), killed on dispose.</summary>
    public Process StartIn(string ns, params string[] args)
    {
        var info = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "netns", "exec", ns }.Concat(args))
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        _processes.Add(process);
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        var prefix = AgentOptions.NamePrefixOf(NodeId, Dir.Path);
        foreach (var ns in (await NamespacesAsync()).Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            await HostCommand.RunAsync("ip", ["netns", "delete", ns]);
        }

        foreach (var link in (await VethLink.ListAsync(default)).Where(l => l.Alias?.StartsWith(prefix, StringComparison.Ordinal) == true))
        {
            await HostCommand.RunAsync("ip", ["link", "delete", link.Name]);
        }

        Dir.Dispose();
    }
}
