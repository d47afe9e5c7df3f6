using System.Collections.Immutable;
using Grid.Billing;
using Grid.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Grid.Grains.Tests.Names;

/// <summary>
/// Names and their traffic paid: hours at the name price, bytes at the gateway farm's network price per GB (10^9
/// bytes, each traffic line rounded down once), the farmer's share to the gateway node's farm owner, one ledger entry
/// per bill, exactly once. Grid time is driven by the test; the name's reminder never fires within it.
/// </summary>
public sealed class NameBillingTests
{
    private static readonly Capacity Small = new(4, 8L << 30, 0, 0);

    [Fact]
    public async Task AClaimedNameIsBilledPerHourAndItsTrafficPerGbWithTheGatewayFarmersShareOnceAndTheLedgerBalances()
    {
        var ledger = new MemoryLedgerStore();
        await using var grid = await GridCluster.StartAsync(ledger, ("Grid:Health:HeartbeatTimeout", "10:00:00"), ("Grid:Billing:TickInterval", "01:00:00"));
        var (tenant, farmerA, farmerB) = (GridCluster.NewId(), GridCluster.NewId(), GridCluster.NewId());
        var (farmA, farmB) = (await grid.CreateFarmAsync(farmerA), await grid.CreateFarmAsync(farmerB));
        var gatewayA = await grid.RegisterNodeAsync(farmA, farmerA, Small);
        var gatewayB = await grid.RegisterNodeAsync(farmB, farmerB, Small);
        // Farm B publishes its own network price; farm A carries traffic at the grid's (tfchain's NU: 15,000 per GB).
        await grid.Grains.GetGrain<IPriceListGrain>(0).SetAsync(farmB, farmerB, new PriceList(100_000, 50_000, 40_000, Nu: 20_000));
        var name = $"shop-{GridCluster.NewId()}";
        var grain = grid.Grains.GetGrain<INameGrain>(name);
        await grain.ClaimAsync(tenant, [new NameBackend(null, null, "http://10.0.0.9")], NameHealthCheck.Default);

        await GatewayBeatAsync(grid, gatewayA, 1, name, 1_000_000_000, 500_000_000);
        await GatewayBeatAsync(grid, gatewayA, 1, name, 1_000_000_000, 500_000_000);   // resent: acknowledged, not counted again
        await GatewayBeatAsync(grid, gatewayB, 1, name, 333_333_333, 0);
        grid.Clock.Advance(TimeSpan.FromMinutes(70));                                     // 13:10
        var first = Assert.Single(await grain.BillDueAsync());
        Assert.Empty(await grain.BillDueAsync());                                         // asked again: nothing twice

        Assert.Equal(($"bill:name:{name}:1:1", BillingSteps.Noon, BillingSteps.Noon.AddHours(1), name), (first.BillId, first.From, first.To, first.Name));
        Assert.Equal(
            [
                (BillLine.NameKind, 0L, 0L, 3600L, 2_500L),                               // an hour at tfchain's unique-name price
                (BillLine.TrafficKind, gatewayA, 1_500_000_000L, 0L, 22_500L),            // 1.5 GB × 15,000
                (BillLine.TrafficKind, gatewayB, 333_333_333L, 0L, 6_666L),               // floor(0.333333333 GB × 20,000 = 6,666.67)
            ],
            first.Lines.Select(l => (l.Kind, l.NodeId, l.Bytes, l.Seconds, l.Amount)).ToArray());
        Assert.Equal(31_666, first.Amount);
        Assert.Equal(-31_666, (await BillingSteps.Account(grid, tenant)).Balance);
        Assert.Equal(20_250, (await BillingSteps.Account(grid, farmerA)).Earned);       // floor(22,500 × 0.9)
        Assert.Equal(5_999, (await BillingSteps.Account(grid, farmerB)).Earned);        // floor(6,666 × 0.9)
        Assert.Equal(5_417, (await BillingSteps.Account(grid, Money.GridAccountId)).Balance);   // the name's hour whole, the traffic's rest

        await GatewayBeatAsync(grid, gatewayA, 2, name, 60, 40);
        grid.Clock.Advance(TimeSpan.FromMinutes(20));                                     // 13:30
        Assert.True(await grain.ReleaseAsync(tenant));
        var entries = await ledger.ReadAsync(1, 10_000);
        var bills = entries.Where(e => e.Kind == LedgerKinds.Bill && e.Subject == $"name:{name}").ToList();
        Assert.Equal([$"bill:name:{name}:1:1", $"bill:name:{name}:1:2"], bills.Select(b => b.EventId).ToArray());
        // The last half hour and 100 bytes (worth 0.0015 of a minor unit: rounded down to 0, shown with its bytes).
        Assert.Equal(1_250, bills[1].Amount);
        Assert.Contains("\"bytes\":100", bills[1].Details, StringComparison.Ordinal);
        Assert.All(bills, b => Assert.Equal(0, b.Postings.Sum(p => p.Amount)));
        Assert.Equal(-32_916, (await BillingSteps.Account(grid, tenant)).Balance);

        var verification = new LedgerVerification([], null);
        Assert.All(entries, e => Assert.True(verification.Add(e)));
        var report = verification.Report();
        Assert.True(report.Ok, report.Problem);
        Assert.Equal(32_916, report.Accounts[tenant].Spent);
        Assert.Equal(20_250, report.Accounts[farmerA].Earned);

        var earnings = ((InProcessSiloHandle)grid.Cluster.Primary!).SiloHost.Services.GetRequiredService<EarningsIndex>();
        var day = BillingSteps.Noon.Date;
        var farmAEarnings = await earnings.GetAsync(farmA, day, day.AddDays(1));
        Assert.Equal((20_250L, gatewayA), (farmAEarnings.Amount, Assert.Single(farmAEarnings.Nodes).NodeId));
        Assert.Equal(5_999, (await earnings.GetAsync(farmB, day, day.AddDays(1))).Amount);
        Assert.Equal(0, (await earnings.GetAsync(0, day, day.AddDays(1))).Amount);    // a name's hours earn no farm
    }

    [Fact]
    public async Task ANameReleasedWithinASecondOfItsClaimOwesNothingAndIsReleased()
    {
        var ledger = new MemoryLedgerStore();
        await using var grid = await GridCluster.StartAsync(ledger, ("Grid:Health:HeartbeatTimeout", "10:00:00"), ("Grid:Billing:TickInterval", "01:00:00"));
        var tenant = GridCluster.NewId();
        var name = $"brief-{GridCluster.NewId()}";
        var grain = grid.Grains.GetGrain<INameGrain>(name);
        await grain.ClaimAsync(tenant, [new NameBackend(null, null, "http://10.0.0.9")], NameHealthCheck.Default);

        // One second at 2,500 per hour is worth less than a minor unit: the release bills nothing and succeeds.
        grid.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await grain.ReleaseAsync(tenant));

        var entries = await ledger.ReadAsync(1, 10_000);
        Assert.DoesNotContain(entries, e => e.Kind == LedgerKinds.Bill && e.Subject == $"name:{name}");
        Assert.Contains(entries, e => e.Kind == LedgerKinds.NameReleased && e.Subject.Contains(name, StringComparison.Ordinal));
        Assert.Equal(0, (await BillingSteps.Account(grid, tenant)).Balance);
    }

    [Fact]
    public async Task ABillWhoseWriteWasLostIsAdoptedFromTheLedgerAndOnlyItsBytesLeaveTheMeter()
    {
        var ledger = new MemoryLedgerStore();
        await using var grid = await GridCluster.StartAsync(ledger, ("Grid:Health:HeartbeatTimeout", "10:00:00"), ("Grid:Billing:TickInterval", "01:00:00"));
        var (tenant, farmer) = (GridCluster.NewId(), GridCluster.NewId());
        var gateway = await grid.RegisterNodeAsync(await grid.CreateFarmAsync(farmer), farmer, Small);
        var name = $"cafe-{GridCluster.NewId()}";
        var grain = grid.Grains.GetGrain<INameGrain>(name);
        await grain.ClaimAsync(tenant, [new NameBackend(null, null, "http://10.0.0.9")], NameHealthCheck.Default);
        await GatewayBeatAsync(grid, gateway, 1, name, 2_000_000_000, 0);
        grid.Clock.Advance(TimeSpan.FromMinutes(65));

        grid.Stall.Fail("name");   // the bill is appended, the name's cursor write after it is lost (a crash)
        await Assert.ThrowsAnyAsync<Exception>(() => grain.BillDueAsync());
        grid.Stall.Release();
        await GatewayBeatAsync(grid, gateway, 2, name, 1_000_000_000, 0);   // counted after the lost write: next bill
        var adopted = Assert.Single(await grain.BillDueAsync());              // the stored bill 1 adopted, not made again
        Assert.Equal(($"bill:name:{name}:1:1", 2_000_000_000L), (adopted.BillId, adopted.Lines.Sum(l => l.Bytes)));
        Assert.True(await grain.ReleaseAsync(tenant));

        var bills = (await ledger.ReadAsync(1, 10_000)).Where(e => e.Kind == LedgerKinds.Bill).ToList();
        Assert.Equal([$"bill:name:{name}:1:1", $"bill:name:{name}:1:2"], bills.Select(b => b.EventId).ToArray());
        Assert.Equal(2_500 + 30_000, bills[0].Amount);                    // an hour and 2 GB
        Assert.Equal(Pricing.Cost(2_500, 300) + 15_000, bills[1].Amount); // five minutes and the 1 GB counted later
        Assert.Equal(-(bills[0].Amount + bills[1].Amount!.Value), (await BillingSteps.Account(grid, tenant)).Balance);
    }

    private static Task<HeartbeatResponse> GatewayBeatAsync(GridCluster grid, long nodeId, long sequence, string name, long bytesIn, long bytesOut) =>
        grid.Grains.GetGrain<INodeGrain>(nodeId).HeartbeatAsync(new Heartbeat(1, [])
        {
            Features = [NodeFeatures.Gateway],
            GatewayAddress = "127.0.0.1:8080",
            Traffic = ImmutableArray.Create(new NameTraffic(name, bytesIn, bytesOut)),
            TrafficSequence = sequence,
        });
}
