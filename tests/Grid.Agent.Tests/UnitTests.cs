using System.Diagnostics;

namespace Grid.Agent.Tests;

public sealed class CapacityDetectorTests
{
    [Fact]
    public void ReadsMemTotalInKibibytes()
    {
        const string meminfo = "MemFree:         1000 kB\nMemTotal:       16318412 kB\nBuffers: 1 kB\n";
        Assert.Equal(16318412L * 1024, CapacityDetector.ParseMemTotal(meminfo));
        Assert.Null(CapacityDetector.ParseMemTotal("MemFree: 1 kB\n"));
    }

    [Fact]
    public void DetectsThisMachine()
    {
        var dir = Directory.CreateTempSubdirectory("grid-capacity-").FullName;
        try
        {
            var capacity = CapacityDetector.Detect(dir);
            Assert.Equal(Environment.ProcessorCount, capacity.Cru);
            Assert.True(capacity.Mru > 64L << 20, $"mru {capacity.Mru}");
            Assert.True(capacity.Sru > 64L << 20, $"sru {capacity.Sru}");
            Assert.Equal(0, capacity.Hru);
            if (File.Exists("/proc/meminfo"))
            {
                Assert.Equal(CapacityDetector.ParseMemTotal(File.ReadAllText("/proc/meminfo")), capacity.Mru);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

public sealed class PidFileTests
{
    [Fact]
    public void RoundTripsEntriesAndToleratesAMissingOrDamagedFile()
    {
        var dir = Directory.CreateTempSubdirectory("grid-pids-").FullName;
        try
        {
            Assert.Empty(PidFile.Load(dir));
            PidEntry[] entries = [new(1, 2, 1234, "98765", true), new(3, 1, 42, "7", false)];
            PidFile.Save(dir, entries);
            Assert.Equal(entries, PidFile.Load(dir));

            File.WriteAllText(Path.Combine(dir, PidFile.FileName), "{ torn");
            Assert.Empty(PidFile.Load(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void NodeCredentialsRoundTripAndAreOwnerOnly()
    {
        var dir = Directory.CreateTempSubdirectory("grid-creds-").FullName;
        try
        {
            Assert.Null(NodeCredentials.Load(dir));
            var credentials = new NodeCredentials(new Uri("http://127.0.0.1:5080"), 12, "secret");
            credentials.Save(dir);
            Assert.Equal(credentials, NodeCredentials.Load(dir));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, NodeCredentials.FileName)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

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
