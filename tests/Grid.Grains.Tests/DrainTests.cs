using Grid.Grains;
using Grid.Testing;

namespace Grid.Grains.Tests;

public sealed class DrainTests
{
    [Fact]
    public async Task DrainMovesReservationsMakeBeforeBreakAtMostMaxParallelAtATime()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var drained = await grid.RegisterNodeAsync(farm, twin, new Capacity(6, 6L << 30, 0, 0));
        var reservations = new List<long>();
        for (var i = 0; i < 6; i++)
        {
            var reservation = await grid.ReserveAsync(twin, new Capacity(1, 1L << 30, 0, 0));
            await grid.Grains.GetGrain<IReservationGrain>(reservation.ReservationId)
                .AddWorkloadAsync(GridCluster.NewId(), new WorkloadSpec($"vm{i}", WorkloadType.Vm, Capacity.Zero, null));
            reservations.Add(reservation.ReservationId);
        }

        var target = await grid.RegisterNodeAsync(farm, twin, new Capacity(64, 64L << 30, 0, 0));
        await grid.BeatAsync(drained, ReportsRunning(await grid.BeatAsync(drained)));

        await grid.Grains.GetGrain<INodeGrain>(drained).SetDrainingAsync(true, maxParallel: 2);

        var maxMigrating = 0;
        var sawBothHeld = false;
        await Poll.UntilAsync(async () =>
        {
            var states = await Task.WhenAll(reservations.Select(r => grid.Grains.GetGrain<IReservationGrain>(r).GetAsync()));
            var migrating = states.Count(s => s!.State == ReservationState.Migrating);
            maxMigrating = Math.Max(maxMigrating, migrating);
            if (migrating > 0)
            {
                // Make before break: while a move is in flight both nodes hold the reservation.
                var old = (await grid.Grains.GetGrain<INodeGrain>(drained).GetAsync())!.Allocations.Select(a => a.ReservationId);
                var moving = states.First(s => s!.State == ReservationState.Migrating)!.ReservationId;
                sawBothHeld |= old.Contains(moving);
            }

            // The new node's agent starts what it is told and reports it running.
            await grid.BeatAsync(target, ReportsRunning(await grid.BeatAsync(target)));
            return states.All(s => s!.State == ReservationState.Active && s.NodeId == target && s.Epoch == 2);
        }, TimeSpan.FromSeconds(seconds: 60), "every reservation runs on the target node");

        Assert.InRange(maxMigrating, 1, 2);
        Assert.True(sawBothHeld);
        var node = (await grid.Grains.GetGrain<INodeGrain>(drained).GetAsync())!;
        Assert.True(node.Draining);
        Assert.Empty(node.Allocations);
        var refused = await grid.Grains.GetGrain<IReservationGrain>(GridCluster.NewId()).CreateAsync(new ReservationRequest(
            twin, new Capacity(1, 1, 0, 0), PlacementConstraints.None with { NodeId = drained }, PlacementStrategy.Binpack));
        Assert.Contains("1 draining", refused.Unplaceable!.Describe());
    }

    private static WorkloadReport[] ReportsRunning(HeartbeatResponse answer) =>
        [.. answer.Desired.Select(w => new WorkloadReport(w.WorkloadId, w.Epoch, WorkloadState.Running))];
}
