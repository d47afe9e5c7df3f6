using System.Collections.Immutable;
using Grid.Names;

namespace Grid.Grains.Tests.Names;

/// <summary>Route resolution without a cluster: a backend's address follows its workload's epochs and states.</summary>
public sealed class RouteTableTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly GatewayOptions Options = new() { Domain = "gw.example.org" };

    [Fact]
    public void ABackendKeepsItsAddressWhileMovingTakesTheNewOneWhenRunningAndLosesItWhenStopped()
    {
        var table = new RouteTable();
        table.SetName(new NameDefinition("shop", 1, [new NameBackend(7, "http", null), new NameBackend(null, null, "http://10.0.0.9")],
            NameHealthCheck.Default, 1, T0, T0));

        table.SetWorkload(Workload(1, WorkloadState.Running, T0, ("http", "10.0.0.1", 20001)));
        var first = Destinations(table);
        table.SetWorkload(Workload(2, WorkloadState.Deploying, T0.AddSeconds(1)));
        var moving = Destinations(table);
        table.SetWorkload(Workload(1, WorkloadState.Stopped, T0.AddSeconds(2)));
        var staleIgnored = Destinations(table);
        table.SetWorkload(Workload(2, WorkloadState.Running, T0.AddSeconds(3), ("http", "fd00::2", 20002)));
        var moved = Destinations(table);
        table.SetWorkload(Workload(2, WorkloadState.Stopped, T0.AddSeconds(4)));
        var stopped = Destinations(table);

        Assert.Equal(["w7-http=http://10.0.0.1:20001", "url-0=http://10.0.0.9"], first);
        Assert.Equal(first, moving);
        Assert.Equal(first, staleIgnored);
        Assert.Equal(["w7-http=http://[fd00::2]:20002", "url-0=http://10.0.0.9"], moved);
        Assert.Equal(["url-0=http://10.0.0.9"], stopped);
        Assert.Equal("shop.gw.example.org", Assert.Single(table.Build(Options)).Host);
    }

    [Fact]
    public void AReleaseRemovesOnlyTheClaimItNamesAndAChangeChangesTheFingerprint()
    {
        var table = new RouteTable();
        table.SetName(new NameDefinition("shop", 1, [new NameBackend(null, null, "http://10.0.0.9")], NameHealthCheck.Default, 2, T0, T0));
        var before = RouteTable.Fingerprint(table.Build(Options));

        Assert.False(table.RemoveName("shop", 1));
        Assert.Equal(before, RouteTable.Fingerprint(table.Build(Options)));
        table.SetName(new NameDefinition("shop", 1, [new NameBackend(null, null, "http://10.0.0.8")], NameHealthCheck.Default, 2, T0, T0.AddSeconds(1)));
        Assert.NotEqual(before, RouteTable.Fingerprint(table.Build(Options)));
        Assert.True(table.RemoveName("shop", 2));
        Assert.Empty(table.Build(Options));
    }

    private static string[] Destinations(RouteTable table) =>
        [.. Assert.Single(table.Build(Options)).Destinations.Select(d => $"{d.Id}={d.Address}")];

    private static WorkloadInfo Workload(long epoch, WorkloadState state, DateTimeOffset at, params (string Name, string Address, int Port)[] endpoints) =>
        new(7, 3, 1, new WorkloadSpec("web", WorkloadType.Container, Capacity.Zero, null), state, 1, epoch, 0, null, T0, at)
        {
            Endpoints = [.. endpoints.Select(e => new WorkloadEndpoint(e.Name, e.Address, e.Port))],
        };
}
