using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// The benchmark harness at its tiny size: every scenario runs and its correctness checks hold. In the process-heavy
/// collection: its containers and gateway scenarios run agents whose node ids (1, 2, …) are those of the end-to-end
/// tests' grids, and an agent deletes containers and pod namespaces of its node id it does not know (strays) — beside
/// the gateway test, it took that test's pods away (a gateway then answered what the egress filter said).
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class BenchSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task EveryBenchmarkScenarioRunsAndItsChecksHoldAtTinyScale()
    {
        var (exitCode, text) = await ChildProcess.RunAsync("dotnet",
            [BuiltApp.PathOf("Grid.Bench", "Grid.Bench.dll", folder: "bench"), "all", "--scale", "tiny"], TimeSpan.FromMinutes(15));
        output.WriteLine(text);

        Assert.True(exitCode == 0, $"the harness failed ({exitCode}):\n{text}");
        foreach (var scenario in new[] { "baseline", "placement", "failover", "heartbeat", "memory", "proxy", "healing", "billing", "containers", "gateway", "limits" })
        {
            Assert.Contains($"\n{scenario} ", text);
        }
    }
}
