using System.Collections.Immutable;
using Grid.Grains;
using Grid.Testing;

namespace Grid.Grains.Tests;

/// <summary>
/// Containers and volumes when their node is lost: the move honours the reservation's required features, the
/// volumes start empty on the new node (and the events say so), and the pull credentials follow in memory only.
/// </summary>
public sealed class ContainerMoveTests
{
    private static readonly Capacity Machine = new(8, 8L << 30, 100L << 30, 0);

    [Fact]
    public async Task ALostNodesContainersMoveOnlyToANodeWithTheFeatureWithEmptyVolumesAndTheirCredentials()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var lost = await grid.RegisterNodeAsync(farm, twin, Machine, heartbeat: false);
        await BeatAsync(grid, lost, NodeFeatures.Process, NodeFeatures.Container);
        var reservation = await grid.ReserveAsync(twin, new Capacity(1, 1L << 30, 10L << 30, 0),
            PlacementConstraints.None with { FarmIds = [farm], Features = [NodeFeatures.Container] });
        var grain = grid.Grains.GetGrain<IReservationGrain>(reservation.ReservationId);
        var volume = GridCluster.NewId();
        var container = GridCluster.NewId();
        await grain.AddWorkloadAsync(volume, new WorkloadSpec("data", WorkloadType.Volume, new Capacity(0, 0, 1L << 30, 0), null, Volume: new VolumeSpec(1L << 30)));
        await grain.AddWorkloadAsync(container, new WorkloadSpec("web", WorkloadType.Container, Capacity.Zero, null,
            new ContainerSpec("127.0.0.1:5000/web@sha256:" + new string('a', 64), [], [], ImmutableDictionary<string, string>.Empty, null,
                [new ContainerPort("http", 8080)], [new ContainerMount("data", "/data", false)], ContainerRestart.OnFailure)),
            new PullCredentials("shop", "pull-secret"));

        // Bigger and emptier, but without containers: the move must pass it by for the node that has them.
        var plain = await grid.RegisterNodeAsync(farm, twin, Machine with { Mru = 64L << 30 }, heartbeat: false);
        await BeatAsync(grid, plain, NodeFeatures.Process);
        var able = await grid.RegisterNodeAsync(farm, twin, Machine, heartbeat: false);
        await BeatAsync(grid, able, NodeFeatures.Container);
        await grid.AdvanceAsync(TimeSpan.FromSeconds(10), [plain, able]);

        await Poll.UntilAsync(async () => (await grain.GetAsync())!.NodeId == able, TimeSpan.FromSeconds(20), "the reservation moves to the container node");
        var events = await grain.GetEventsAsync();
        var reset = Assert.Single(events, e => e.Kind == "volume-reset");
        Assert.Equal(able, reset.NodeId);
        Assert.Equal(2, reset.Epoch);
        Assert.Contains("Volume data", reset.Message);
        var desired = (await grid.BeatAsync(able)).Desired;
        var assignment = Assert.Single(desired, w => w.WorkloadId == container);
        Assert.Equal((2L, twin, "pull-secret"), (assignment.Epoch, assignment.TwinId, assignment.Auth?.Password));
        Assert.Null(Assert.Single(desired, w => w.WorkloadId == volume).Auth);

        // What the node stores (its allocations) never holds the credentials.
        var stored = (await grid.Grains.GetGrain<INodeGrain>(able).GetAsync())!.Allocations.SelectMany(a => a.Workloads);
        Assert.All(stored, w => Assert.Null(w.Auth));
        Assert.Empty((await grid.Grains.GetGrain<INodeGrain>(plain).GetAsync())!.Allocations);

        // Deleted with its workload: a later placement would carry no credentials.
        await grain.DeleteWorkloadAsync(container);
        Assert.Null(await grid.Grains.GetGrain<IPullCredentialsGrain>(container).GetAsync());
    }

    [Fact]
    public async Task StorageBeyondTheReservationsSruIsRefusedNamingTheNumbers()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        await grid.RegisterNodeAsync(farm, twin, Machine);
        var reservation = await grid.ReserveAsync(twin, new Capacity(1, 1L << 30, 4L << 30, 0));
        var grain = grid.Grains.GetGrain<IReservationGrain>(reservation.ReservationId);
        await grain.AddWorkloadAsync(GridCluster.NewId(), new WorkloadSpec("a", WorkloadType.Volume, new Capacity(0, 0, 3L << 30, 0), null, Volume: new VolumeSpec(3L << 30)));

        var refused = await Assert.ThrowsAsync<GridRequestException>(() => grain.AddWorkloadAsync(GridCluster.NewId(),
            new WorkloadSpec("b", WorkloadType.Volume, new Capacity(0, 0, 2L << 30, 0), null, Volume: new VolumeSpec(2L << 30))));

        Assert.Equal(409, refused.Status);
        Assert.Contains($"sru {4L << 30}", refused.Message);
        Assert.Contains($"use {3L << 30}", refused.Message);
        Assert.Single((await grain.GetAsync())!.WorkloadIds);
    }

    private static Task<HeartbeatResponse> BeatAsync(GridCluster grid, long nodeId, params string[] features) =>
        grid.Grains.GetGrain<INodeGrain>(nodeId).HeartbeatAsync(new Heartbeat(1, []) { Features = [.. features], Address = "10.0.0.1" });
}
