using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>The benchmark harness at its tiny size: every scenario runs and its correctness checks hold.</summary>
public sealed class BenchSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task EveryBenchmarkScenarioRunsAndItsChecksHoldAtTinyScale()
    {
        var (exitCode, text) = await ChildProcess.RunAsync("dotnet",
            [BuiltApp.PathOf("Grid.Bench", "Grid.Bench.dll", folder: "bench"), "all", "--scale", "tiny"], TimeSpan.FromMinutes(15));
        output.WriteLine(text);

        Assert.True(exitCode == 0, $"the harness failed ({exitCode}):\n{text}");
        foreach (var scenario in new[] { "baseline", "placement", "failover", "heartbeat", "memory", "proxy", "healing", "billing", "containers", "gateway" })
        {
            Assert.Contains($"\n{scenario} ", text);
        }
    }
}
