using System.Collections.Immutable;
using Grid.Proxy;

namespace Grid.Host.Tests;

/// <summary>The read model folded from ledger entries of the kinds in LEDGER-EVENTS (no host needed).</summary>
public sealed class ProxyReadModelTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ContractsFollowPlacementMovesGraceAndCancellation()
    {
        var model = new ProxyReadModel();
        model.Apply(
        [
            Entry(1, "twin.created", """{"twinId":7,"name":"tenant"}"""),
            Entry(2, "farm.registered", """{"farmId":3,"twinId":2,"name":"f","certification":"gold","publicIps":[]}"""),
            Entry(3, "reservation.placed", """{"reservationId":40,"twinId":7,"nodeId":11,"farmId":3,"epoch":1,"publicIps":1}"""),
            Entry(4, "reservation.placed", """{"reservationId":41,"twinId":7,"nodeId":12,"farmId":3,"epoch":1,"publicIps":0}"""),
            Entry(5, "reservation.moved", """{"reservationId":40,"fromNodeId":11,"nodeId":13,"farmId":4,"epoch":2}"""),
            Entry(6, "reservation.grace", """{"reservationId":41,"twinId":7}"""),
            Entry(7, "reservation.cancelled", """{"reservationId":40,"twinId":7,"cause":"tenant"}"""),
        ]);

        Assert.Equal(7, model.Head);
        Assert.Equal([7L], model.Twins().Select(t => t.TwinId));
        Assert.Equal([3L], model.Farms().Select(f => f.FarmId));
        Assert.True(model.TryGetContract(40, out var moved));
        Assert.Equal(new ContractRow(40, 7, ProxyReadModel.Deleted, T0.AddSeconds(3).ToUnixTimeSeconds(), 13, 4, 1), moved);
        Assert.True(model.TryGetContract(41, out var grace));
        Assert.Equal(ProxyReadModel.GracePeriod, grace.State);
        Assert.Equal([40L, 41L], model.Contracts(7).Select(c => c.ContractId).Order());
        Assert.Empty(model.Contracts(8));

        model.Apply([Entry(8, "reservation.resumed", """{"reservationId":41,"twinId":7}""")]);
        Assert.True(model.TryGetContract(41, out var resumed));
        Assert.Equal(ProxyReadModel.Created, resumed.State);
    }

    [Fact]
    public void ARentIsARentContractWithItsBillsUntilItsRelease()
    {
        var model = new ProxyReadModel();
        model.Apply(
        [
            Entry(1, "node.rented", """{"contractId":50,"nodeId":11,"twinId":7,"farmId":3,"pricePerHour":264000}"""),
            Entry(2, "bill", """{"billId":"rent:50:bill:1","reservationId":50,"sequence":1,"to":"2026-11-27T13:00:00+00:00","amount":900,"twinId":7,"rentContractId":50}"""),
        ]);
        Assert.True(model.TryGetContract(50, out var rent));
        Assert.Equal(new ContractRow(50, 7, ProxyReadModel.Created, T0.AddSeconds(1).ToUnixTimeSeconds(), 11, 3, 0, "rent"), rent);
        Assert.Equal(900, Assert.Single(model.Bills(50)).Amount);

        model.Apply([Entry(3, "node.released", """{"contractId":50,"nodeId":11,"twinId":7,"cause":"renter"}""")]);
        Assert.True(model.TryGetContract(50, out var released));
        Assert.Equal((ProxyReadModel.Deleted, "rent"), (released.State, released.Type));
        Assert.Equal([50L], model.Contracts(7).Select(c => c.ContractId));
    }

    [Fact]
    public void AFarmsAddressesShowWhichContractHoldsThemUntilItMovesAwayOrIsCancelled()
    {
        var model = new ProxyReadModel();
        string Holders() => string.Join(" ", model.Farms().Single().PublicIps.Select(ip => $"{ip.Ip}={ip.ContractId}"));
        model.Apply(
        [
            Entry(1, "farm.registered", """{"farmId":3,"twinId":2,"name":"f","certification":"gold","publicIps":["a","b","c"],"gateways":["g","g","h"]}"""),
            Entry(2, "reservation.placed", """{"reservationId":40,"twinId":7,"nodeId":11,"farmId":3,"epoch":1,"publicIps":2,"ips":["a","c"]}"""),
            Entry(3, "reservation.placed", """{"reservationId":41,"twinId":7,"nodeId":11,"farmId":3,"epoch":1,"publicIps":1,"ips":["b"]}"""),
        ]);
        Assert.Equal("a=40 b=41 c=40", Holders());
        Assert.Equal("h", model.Farms().Single().PublicIps[2].Gateway);

        // A move inside the farm keeps the addresses; a move to another farm frees them.
        model.Apply([Entry(4, "reservation.moved", """{"reservationId":40,"fromNodeId":11,"nodeId":12,"farmId":3,"epoch":2,"ips":["a","c"]}""")]);
        Assert.Equal("a=40 b=41 c=40", Holders());
        model.Apply([Entry(5, "reservation.moved", """{"reservationId":40,"fromNodeId":12,"nodeId":13,"farmId":4,"epoch":3,"ips":[]}""")]);
        Assert.Equal("a=0 b=41 c=0", Holders());

        // 42 takes b before 41's cancel is folded: the cancel frees only what 41 still holds.
        model.Apply([Entry(6, "reservation.placed", """{"reservationId":42,"twinId":7,"nodeId":11,"farmId":3,"epoch":1,"publicIps":1,"ips":["b"]}""")]);
        model.Apply([Entry(7, "reservation.cancelled", """{"reservationId":41,"twinId":7,"cause":"tenant"}""")]);
        Assert.Equal("a=0 b=42 c=0", Holders());
        model.Apply([Entry(8, "reservation.cancelled", """{"reservationId":42,"twinId":7,"cause":"tenant"}""")]);
        Assert.Equal("a=0 b=0 c=0", Holders());
    }

    [Fact]
    public void EntriesAtOrBelowTheHeadAreNotAppliedTwice()
    {
        var model = new ProxyReadModel();
        var placed = Entry(1, "reservation.placed", """{"reservationId":40,"twinId":7,"nodeId":11,"farmId":3,"epoch":1,"publicIps":0}""");
        var bill = Entry(2, "bill", """{"billId":"bill:40:1","reservationId":40,"sequence":1,"to":"2026-11-27T13:00:00Z","amount":500,"twinId":7}""", amount: 500);

        model.Apply([placed, bill]);
        model.Apply([placed, bill]);

        Assert.Single(model.Bills(40));
        Assert.Single(model.Contracts(7));
    }

    [Fact]
    public async Task BillsAreNewestFirstAndConsumptionFollowsTheGridProxysArithmetic()
    {
        var model = new ProxyReadModel();
        model.Apply(
        [
            Entry(1, "reservation.placed", """{"reservationId":40,"twinId":7,"nodeId":11,"farmId":3,"epoch":1,"publicIps":0}"""),
            Entry(2, "bill", """{"reservationId":40,"sequence":1,"to":"2026-11-27T12:30:00Z","amount":5000000}""", amount: 5_000_000),
            Entry(3, "bill", """{"reservationId":40,"sequence":2,"to":"2026-11-27T13:30:00Z","amount":10000000}""", amount: 10_000_000),
            Entry(4, "reservation.placed", """{"reservationId":41,"twinId":7,"nodeId":11,"farmId":3,"epoch":1,"publicIps":0}"""),
            Entry(5, "bill", """{"reservationId":41,"sequence":1,"to":"2026-11-27T13:30:00Z","amount":30000000}""", amount: 30_000_000),
            Entry(6, "reservation.cancelled", """{"reservationId":41,"twinId":7,"cause":"tenant"}"""),
        ]);

        Assert.Equal([2L, 1L], model.Bills(40).Select(b => b.Sequence));
        Assert.Equal(T0.AddHours(1.5).ToUnixTimeSeconds(), model.Bills(40)[0].Timestamp);

        var consumption = ContractsQuery.ConsumptionOf(await new MemoryProxyReadStore(model).BillingAsync(7, CancellationToken.None));
        // Live contract 40: its latest bill (1 unit) over the hour since the previous one; 41 is deleted.
        Assert.Equal(1.0, consumption.LastHourConsumption, 6);
        Assert.Equal(4.5, consumption.OverallConsumption, 6);
    }

    [Fact]
    public void AGatewayNamesBillIsNoContractsBill()
    {
        var model = new ProxyReadModel();
        model.Apply(
        [
            Entry(1, "reservation.placed", """{"reservationId":40,"twinId":7,"nodeId":11,"farmId":3,"epoch":1,"publicIps":0}"""),
            Entry(2, "bill", """{"billId":"bill:name:shop:1:1","reservationId":0,"sequence":1,"to":"2026-11-27T13:00:00Z","amount":900,"twinId":7,"name":"shop"}""",
                amount: 900),
            Entry(3, "bill", """{"billId":"bill:40:1","reservationId":40,"sequence":1,"to":"2026-11-27T13:00:00Z","amount":500,"twinId":7}""", amount: 500),
        ]);

        Assert.Equal(3, model.Head);
        Assert.Empty(model.Bills(0));
        Assert.Equal(500, Assert.Single(model.Bills(40)).Amount);
    }

    [Fact]
    public void MalformedDetailsAreSkippedWithoutStoppingTheFold()
    {
        var model = new ProxyReadModel();
        model.Apply(
        [
            Entry(1, "reservation.placed", "not json"),
            Entry(2, "reservation.placed", "[1,2]"),
            Entry(3, "twin.created", """{"twinId":9,"name":"ok"}"""),
        ]);

        Assert.Equal(3, model.Head);
        Assert.Equal(0, model.ContractCount);
        Assert.Equal(1, model.TwinCount);
    }

    private static LedgerEntry Entry(long seq, string kind, string details, long? amount = null) =>
        new(seq, T0.AddSeconds(seq), kind, $"{kind}:{seq}", "grid", "x", amount, ImmutableArray<Posting>.Empty, details, "", "");
}
