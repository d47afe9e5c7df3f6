using System.Collections.Immutable;
using System.Text.Json;
using Grid.Billing;
using Grid.Grains;
using Grid.Testing;

namespace Grid.Grains.Tests;

/// <summary>
/// New reservations are placed in batches by the silo's placer, which writes their records without activating
/// their grains: concurrent creates must still never overbook, each be listed and billed exactly as placed, and
/// a reservation grain that was asked about an id before its record landed must neither hide the reservation
/// afterwards nor let go of capacity that a placement still in flight is about to acknowledge.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class PlacementBatchTests(SharedCluster cluster)
{
    private static readonly Capacity Machine = new(8, 8L << 30, 0, 0);
    private static readonly Capacity Small = new(1, 1L << 30, 0, 0);

    [Fact]
    public async Task ConcurrentCreatesFillTheGridExactlyAndAreEachListedAndBilled()
    {
        await using var grid = await GridCluster.StartAsync();
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var nodes = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            nodes.Add(await grid.RegisterNodeAsync(farm, twin, Machine));
        }

        // 60 requests for 40 slots, all at once: the batches must place exactly 40, refuse 20, overbook nothing.
        var first = GridCluster.NewId();
        var placer = grid.Placer;
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => placer.PlaceAsync(first + i,
            new ReservationRequest(twin, Small, PlacementConstraints.None, i % 2 == 0 ? PlacementStrategy.Binpack : PlacementStrategy.Spread))));

        var placed = outcomes.Where(o => o.Reservation is not null).Select(o => o.Reservation!).ToList();
        Assert.Equal(40, placed.Count);
        Assert.All(outcomes.Where(o => o.Reservation is null), o => Assert.NotNull(o.Unplaceable));
        var held = new Dictionary<long, long>();
        foreach (var nodeId in nodes)
        {
            var node = (await grid.Grains.GetGrain<INodeGrain>(nodeId).GetAsync())!;
            Assert.Equal(8, node.Allocations.Length);
            foreach (var allocation in node.Allocations)
            {
                held.Add(allocation.ReservationId, nodeId);
            }
        }

        // Each acknowledged reservation is stored where its allocation is, listed for its twin and for billing.
        Assert.Equal(placed.Select(r => r.ReservationId).Order(), held.Keys.Order());
        foreach (var reservation in placed)
        {
            var stored = (await grid.Grains.GetGrain<IReservationGrain>(reservation.ReservationId).GetAsync())!;
            Assert.Equal(ReservationState.Active, stored.State);
            Assert.Equal(held[reservation.ReservationId], stored.NodeId);
            Assert.Equal(reservation.NodeId, stored.NodeId);
        }

        var listed = await Task.WhenAll(placed.Select(r => TwinReservations.BucketOf(r.ReservationId)).Distinct()
            .Select(bucket => grid.Grains.Bucket(twin, bucket).GetAsync()));
        Assert.Subset(listed.SelectMany(ids => ids).ToHashSet(), placed.Select(r => r.ReservationId).ToHashSet());
        var billing = await Task.WhenAll(Enumerable.Range(0, 256).Select(b => grid.Grains.GetGrain<IBillingBucketGrain>(b).CountAsync()));
        Assert.True(billing.Sum() >= 40, $"{billing.Sum()} reservations listed for billing, 40 placed");
    }

    [Fact]
    public async Task AnActivationThatFoundNoReservationServesItOnceThePlacerWroteIt()
    {
        var grid = cluster.Grid;
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        await grid.RegisterNodeAsync(farm, twin, Machine);
        var id = GridCluster.NewId();
        var reservation = grid.Grains.GetGrain<IReservationGrain>(id);

        // Asked before it exists (a guessed id, a billing tick): the activation holds an empty state...
        Assert.Null(await reservation.GetAsync());
        var outcome = await grid.Placer.PlaceAsync(id, new ReservationRequest(twin, Small, PlacementConstraints.None, PlacementStrategy.Binpack));
        Assert.NotNull(outcome.Reservation);

        // ...and must not answer "no such reservation" for one that was acknowledged.
        var read = await reservation.GetAsync();
        Assert.NotNull(read);
        Assert.Equal(ReservationState.Active, read.State);
        Assert.True(await reservation.CancelAsync());
    }

    [Fact]
    public async Task APlacementWhoseRecordIsStillOnItsWayWhenTheOrphanCheckAsksFailsAndLeavesNothingBehind()
    {
        await using var grid = await GridCluster.StartAsync(("Grid:Health:OrphanCheckInterval", "00:00:00.200"));
        var twin = GridCluster.NewId();
        var farm = await grid.CreateFarmAsync(twin);
        var nodeId = await grid.RegisterNodeAsync(farm, twin, Machine);
        var id = GridCluster.NewId();

        // The placer has allocated and listed; the record's write is held (a slow database).
        grid.Stall.HoldNext("reservation");
        var create = grid.Placer.PlaceAsync(id, new ReservationRequest(twin, Small, PlacementConstraints.None, PlacementStrategy.Binpack));
        await Poll.UntilAsync(() => Task.FromResult(grid.Stall.Waiting == 1), TimeSpan.FromSeconds(20), "the reservation's record write is held");

        // Meanwhile the node's orphan check finds an allocation old enough whose reservation has no record: it lets
        // the capacity go, and the reservation id is retired first, so the record cannot land after that.
        await grid.AdvanceAsync(TimeSpan.FromSeconds(2), [nodeId]);
        await Poll.UntilAsync(async () => (await grid.Grains.GetGrain<INodeGrain>(nodeId).GetAsync())!.Allocations.IsEmpty, TimeSpan.FromSeconds(20),
            "the orphan check released the allocation");
        grid.Stall.Release();

        // So the placement is not acknowledged, and nothing says otherwise.
        await Assert.ThrowsAnyAsync<Exception>(() => create);
        Assert.Null(await grid.Grains.GetGrain<IReservationGrain>(id).GetAsync());
        Assert.Empty((await grid.Grains.GetGrain<INodeGrain>(nodeId).GetAsync())!.Allocations);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void ThePlacedEventIsWrittenInTheLedgersJsonForIt(int addresses)
    {
        // Written field by field on the placement path: it must stay the JSON every reader of the ledger expects.
        var resources = new Capacity(2, 4L << 30, 50L << 30, 1L << 40, addresses);
        var ips = Enumerable.Range(0, addresses).Select(i => new FarmIp($"185.69.166.{7 + i}/24", "185.69.166.1", 42)).ToImmutableArray();
        var expected = JsonSerializer.Serialize(new
        {
            reservationId = 42L, twinId = 7L, nodeId = 9L, farmId = 3L, epoch = 1L, publicIps = addresses, pricePerHour = 123_456L,
            resources = new { cru = resources.Cru, mru = resources.Mru, sru = resources.Sru, hru = resources.Hru, ipv4 = resources.Ipv4 },
            ips = ips.Select(ip => ip.Ip).ToArray(),
        }, BillingEvents.Json);

        Assert.Equal(expected, BillingEvents.Placed(42, 7, 9, 3, 1, resources, 123_456, ips).Details);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(2, true)]
    public void TheMovedEventIsWrittenInTheLedgersJsonForIt(int addresses, bool repriced)
    {
        // Written field by field (a failover writes one per moved reservation), with the writer placements share.
        var ips = Enumerable.Range(0, addresses).Select(i => new FarmIp($"185.69.166.{7 + i}/24", "185.69.166.1", 42)).ToImmutableArray();
        var expected = JsonSerializer.Serialize(new
        {
            reservationId = 42L, fromNodeId = 8L, nodeId = 9L, farmId = 3L, epoch = 2L, pricePerHour = 123_456L, repriced,
            ips = ips.Select(ip => ip.Ip).ToArray(),
        }, BillingEvents.Json);

        var placedBefore = BillingEvents.Placed(41, 7, 8, 3, 1, new Capacity(1, 1, 1, 1), 5, ips).Details;
        Assert.Equal(expected, BillingEvents.Moved(42, 8, 9, 3, 2, 123_456, repriced, ips).Details);
        Assert.StartsWith("{\"reservationId\":41,", placedBefore);
    }
}
