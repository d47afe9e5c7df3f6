using Grid.Deployment.Tests.Infrastructure;

namespace Grid.Deployment.Tests;

/// <summary>The bare-metal example (k8s/systemd) sets the same host configuration as the Kubernetes one.</summary>
public sealed class SystemdTests
{
    private static readonly string Folder = RepoRoot.Combine("k8s", "systemd");

    private static IReadOnlyDictionary<string, string> Settings()
    {
        var unit = File.ReadAllLines(Path.Combine(Folder, "grid-silo.service"))
            .Select(l => l.Trim())
            .Where(l => l.StartsWith("Environment=", StringComparison.Ordinal))
            .Select(l => l["Environment=".Length..]);
        var envFile = File.ReadAllLines(Path.Combine(Folder, "grid-silo.env"))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'));

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in unit.Concat(envFile))
        {
            var eq = line.IndexOf('=');
            result[line[..eq]] = line[(eq + 1)..];
        }

        return result;
    }

    [Theory]
    [MemberData(nameof(HostContract.ClusterVariables), MemberType = typeof(HostContract))]
    public void The_unit_and_its_env_file_set_each_variable_a_bare_metal_silo_needs(string name)
    {
        Assert.False(string.IsNullOrWhiteSpace(Settings().GetValueOrDefault(name)), $"{name} is not set");
    }

    [Fact]
    public void A_bare_metal_silo_uses_postgres_and_listens_beyond_loopback()
    {
        var settings = Settings();

        Assert.Equal(HostContract.PostgresStorage, settings[HostContract.Storage]);
        Assert.Equal("0", settings[HostContract.DemoNodes]);
        Assert.DoesNotContain("127.0.0.1", settings[HostContract.Urls], StringComparison.Ordinal);
        Assert.NotEqual("127.0.0.1", settings[HostContract.AdvertisedAddress]);
    }

    [Fact]
    public void The_unit_starts_the_host_reads_the_env_file_and_leaves_time_for_a_clean_shutdown()
    {
        var unit = File.ReadAllText(Path.Combine(Folder, "grid-silo.service"));

        Assert.Contains($"{HostContract.HostAssembly}", unit.Split('\n').Single(l => l.StartsWith("ExecStart=", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("EnvironmentFile=", unit, StringComparison.Ordinal);
        var stop = unit.Split('\n').Single(l => l.StartsWith("TimeoutStopSec=", StringComparison.Ordinal));
        Assert.InRange(int.Parse(stop["TimeoutStopSec=".Length..]), 45, 600);
        Assert.True(int.Parse(stop["TimeoutStopSec=".Length..]) >= HostContract.GracefulShutdownSeconds + 5, "systemd waits out the host's graceful shutdown");
    }
}
