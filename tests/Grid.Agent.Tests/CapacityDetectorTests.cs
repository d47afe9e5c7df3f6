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
