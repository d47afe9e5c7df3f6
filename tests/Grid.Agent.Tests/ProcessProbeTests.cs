using System.Diagnostics;

namespace Grid.Agent.Tests;

public sealed class ProcessProbeTests
{
    [Fact]
    public void TellsALiveProcessFromAGoneOne()
    {
        using var process = Process.Start("/bin/sh", ["-c", "sleep 30"]);
        var marker = ProcessProbe.StartMarker(process.Id);
        Assert.NotNull(marker);
        Assert.True(ProcessProbe.IsAlive(process.Id, marker));
        Assert.False(ProcessProbe.IsAlive(process.Id, marker + "1"), "a reused PID has another start time");

        process.Kill();
        process.WaitForExit();
        Assert.False(ProcessProbe.IsAlive(process.Id, marker));
    }
}
