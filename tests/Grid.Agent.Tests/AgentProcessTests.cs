using System.Collections.Immutable;
using System.Diagnostics;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.Agent.Tests;

/// <summary>
/// The real <c>grid agent</c> executable: SIGTERM stops its workloads, kill -9 and SIGHUP (an upgrade in place) leave them
/// for re-adoption.
/// </summary>
public sealed class AgentProcessTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TestWorkDir _dir = new();
    private readonly List<Process> _agents = [];
    private FakeController _controller = null!;

    public async Task InitializeAsync()
    {
        _controller = await FakeController.StartAsync();
        _controller.Desired =
        [
            new WorkloadAssignment(1, 101, 1, new WorkloadSpec("ticker", WorkloadType.Process, new Capacity(1, 64 << 20, 0, 0),
                new ProcessSpec("/bin/sh", ["-c", "while true; do echo tick >> out.txt; sleep 0.1; done"], ImmutableDictionary<string, string>.Empty))),
        ];
    }

    public async Task DisposeAsync()
    {
        foreach (var agent in _agents)
        {
            if (!agent.HasExited)
            {
                agent.Kill();
            }

            agent.Dispose();
        }

        await _controller.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task SigtermStopsTheWorkloadsAndExitsCleanly()
    {
        var agent = StartAgent();
        await Poll.UntilAsync(() => _controller.LastReportOf(1, 1)?.State == WorkloadState.Running, TimeSpan.FromSeconds(10), "the workload runs");
        var workload = Assert.Single(_dir.Pids());

        ProcessProbe.Signal(agent.Id, group: false, ProcessProbe.SigTerm);

        await agent.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(0, agent.ExitCode);
        Assert.False(ProcessProbe.IsAlive(workload.Pid, workload.StartMarker));
        Assert.Empty(_dir.Pids());
    }

    [Fact]
    public async Task AnAgentKilledWithSigkillLeavesItsWorkloadToTheNextAgent()
    {
        var first = StartAgent();
        await Poll.UntilAsync(() => _controller.LastReportOf(1, 1)?.State == WorkloadState.Running, TimeSpan.FromSeconds(10), "the workload runs");
        var workload = Assert.Single(_dir.Pids());

        first.Kill();
        await first.WaitForExitAsync();
        Assert.True(ProcessProbe.IsAlive(workload.Pid, workload.StartMarker), "the workload survives its agent");
        var seen = _controller.Heartbeats.Count;

        var second = StartAgent();
        await Poll.UntilAsync(
            () => _controller.Heartbeats.Skip(seen).SelectMany(h => h.Workloads).Any(r => r.Message?.Contains("re-adopted") == true), TimeSpan.FromSeconds(20),
            "the restarted agent reports the re-adopted workload");
        Assert.Equal(workload, Assert.Single(_dir.Pids()));

        ProcessProbe.Signal(second.Id, group: false, ProcessProbe.SigTerm);
        await second.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
        Assert.False(ProcessProbe.IsAlive(workload.Pid, workload.StartMarker));
    }

    [Fact]
    public async Task SighupLeavesTheWorkloadRunningForTheNextAgentAsInAnUpgradeInPlace()
    {
        _controller.AnswersAsALaterRelease = true;
        var first = StartAgent();
        await Poll.UntilAsync(() => _controller.LastReportOf(1, 1)?.State == WorkloadState.Running, TimeSpan.FromSeconds(20), "the workload runs");
        var workload = Assert.Single(_dir.Pids());
        Assert.All(_controller.Heartbeats, h => Assert.Equal(GridRelease.Version, h.AgentVersion));

        ProcessProbe.Signal(first.Id, group: false, 1);

        await first.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(0, first.ExitCode);
        Assert.True(ProcessProbe.IsAlive(workload.Pid, workload.StartMarker), "the workload outlives the agent that handed it over");
        Assert.Equal(workload, Assert.Single(_dir.Pids()));
        var seen = _controller.Heartbeats.Count;

        var second = StartAgent();
        await Poll.UntilAsync(
            () => _controller.Heartbeats.Skip(seen).SelectMany(h => h.Workloads).Any(r => r.Message?.Contains("re-adopted") == true), TimeSpan.FromSeconds(20),
            "the next agent reports the re-adopted workload");
        Assert.True(ProcessProbe.IsAlive(workload.Pid, workload.StartMarker), "the same process runs on");
        Assert.Equal(0, _controller.LastReportOf(1, 1)!.Restarts);

        ProcessProbe.Signal(second.Id, group: false, ProcessProbe.SigTerm);
        await second.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
        Assert.False(ProcessProbe.IsAlive(workload.Pid, workload.StartMarker));
    }

    private Process StartAgent()
    {
        // The SIGHUP test needs the signal's default disposition, which a run under nohup would otherwise pass on.
        var (fileName, args) = ChildProcess.WithDefaultHangup("dotnet",
        [
            GridDll(), "agent", "--api", _controller.Url.ToString(),
            "--node-id", FakeController.NodeId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--node-key", FakeController.NodeKey,
            "--workdir", _dir.Path, "--allow-process-workloads", "--heartbeat-interval", "200ms", "--stop-grace", "2s",
        ]);
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var agent = Process.Start(info)!;
        agent.OutputDataReceived += (_, e) => Write(e.Data);
        agent.ErrorDataReceived += (_, e) => Write(e.Data);
        agent.BeginOutputReadLine();
        agent.BeginErrorReadLine();
        _agents.Add(agent);
        return agent;
    }

    /// <summary>
    /// grid.dll in the CLI's own output folder: the copy beside the tests would resolve its dependencies against
    /// this test project's ASP.NET Core framework, which <c>grid</c> does not use.
    /// </summary>
    private static string GridDll()
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var (framework, configuration) = (testOutput.Name, testOutput.Parent!.Name);
        var repo = testOutput.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        return Path.Combine(repo, "src", "Grid.Cli", "bin", configuration, framework, "grid.dll");
    }

    private void Write(string? line)
    {
        try
        {
            if (line is not null)
            {
                output.WriteLine(line);
            }
        }
        catch (InvalidOperationException)
        {
            // The test already ended.
        }
    }
}
