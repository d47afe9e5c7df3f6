using Grid.Testing;

namespace Grid.Grains.Tests;

/// <summary>
/// A placement's "placed" event is durable in the reservation's own write and reaches the ledger after the answer,
/// so a slow ledger does not hold up placements (nor is the event lost).
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class PlacementLedgerTests(SharedCluster cluster)
{
    private const long Gib = 1L << 30;

    [Fact]
    public async Task APlacementIsAnsweredWhileTheLedgerIsStalledAndItsPlacedEventArrivesOnceTheLedgerIsBack()
    {
        var ledger = new GatedLedgerStore();
        await using var grid = await GridCluster.StartAsync(ledger,
            ("Grid:Health:HeartbeatTimeout", "01:00:00"), ("Grid:Billing:TickInterval", "01:00:00"));
        var (tenant, farmer) = (GridCluster.NewId(), GridCluster.NewId());
        await grid.RegisterNodeAsync(await grid.CreateFarmAsync(farmer), farmer, new Capacity(16, 64 * Gib, 0, 0));
        var id = GridCluster.NewId();
        var placed = $"reservation:{id}:placed:1";

        ledger.Hold();
        var outcome = await grid.Grains.GetGrain<IReservationGrain>(id)
            .CreateAsync(new ReservationRequest(tenant, BillingSteps.OneCu, PlacementConstraints.None, PlacementStrategy.Binpack))
            .WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(ReservationState.Active, outcome.Reservation?.State);
        await Poll.UntilAsync(() => Task.FromResult(ledger.Held > 0), TimeSpan.FromSeconds(20), "the placed event waits at the stalled ledger");
        Assert.Empty(await ledger.FindAsync([placed]));
        ledger.Release();
        await Poll.UntilAsync(async () => (await ledger.FindAsync([placed])).Count == 1, TimeSpan.FromSeconds(20), "the placed event is in the ledger");
    }

    [Fact]
    public async Task CachedGrainReferencesAddressTheSameGrainsAsGetGrain()
    {
        var grid = cluster.Grid;
        var id = GridCluster.NewId();

        Assert.Equal(grid.Grains.GetGrain<IReservationGrain>(id).GetGrainId(), grid.Grains.Get<IReservationGrain>(id).GetGrainId());
        Assert.Equal(grid.Grains.GetGrain<IBillingBucketGrain>(7).GetGrainId(), grid.Grains.Get<IBillingBucketGrain>(7).GetGrainId());
        Assert.Equal(grid.Grains.GetGrain<ITwinReservationsGrain>($"{id}/3").GetGrainId(), grid.Grains.Bucket(id, 3).GetGrainId());
        Assert.Null(await grid.Grains.Get<IReservationGrain>(id).GetAsync());
    }
}
