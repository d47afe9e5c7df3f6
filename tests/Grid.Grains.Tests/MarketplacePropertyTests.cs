using FsCheck;
using FsCheck.Fluent;
using Grid.Billing;
using Grid.Ledger;
using Xunit.Abstractions;

namespace Grid.Grains.Tests;

public enum MarketOpKind
{
    Reserve,
    Spot,
    Preempt,
    Cancel,
    NodeLoss,
    Advance,
    Tick,
}

/// <summary>One step of a random marketplace sequence (see <see cref="MarketSequence"/>).</summary>
public sealed record MarketOp(MarketOpKind Kind, int A, int B = 0)
{
    public override string ToString() => $"new({Kind}, {A}, {B})";
}

/// <summary>
/// Spot and priority as a property: random sequences of reserve (priority 10 or 50), spot, preempting reservations
/// (priority 90), cancel, node loss, time passing and billing ticks on a small full grid. After every step no node is
/// overbooked and no reservation is held on two nodes that are up; after the sequence every reservation's bills
/// cover exactly the seconds its events say it was served (never while preempted, never after its node's last
/// heartbeat), at its price (spot at 40 %), each bill once in the ledger, and debits equal credits.
/// </summary>
public sealed class MarketplacePropertyTests(ITestOutputHelper output)
{
    internal static readonly (string Key, string Value)[] Settings =
    [
        ("Grid:Billing:Cycle", "00:10:00"), ("Grid:Billing:TickInterval", "01:00:00"), ("Grid:Billing:SettleDelay", "00:00:00"),
        ("Grid:Health:HeartbeatTimeout", "00:01:30"), ("Grid:Health:RejoinAfter", "00:00:00"), ("Grid:Health:RetryBackoff", "00:00:00.100"),
        ("Grid:Health:MassFailureShare", "1"), ("Grid:Scheduling:PreemptionNotice", "00:00:00"),
        ("Grid:Scheduling:MaxPreemptionsPerMinute", "100000"),
    ];

    private static readonly Gen<MarketOp> Op = Gen.Frequency(
        (5, from size in Gen.Choose(1, 2) from low in Gen.Choose(0, 1) select new MarketOp(MarketOpKind.Reserve, size, low)),
        (4, Gen.Choose(1, 2).Select(size => new MarketOp(MarketOpKind.Spot, size))),
        (4, Gen.Choose(1, 3).Select(size => new MarketOp(MarketOpKind.Preempt, size))),
        (3, Gen.Choose(0, 15).Select(i => new MarketOp(MarketOpKind.Cancel, i))),
        (1, Gen.Choose(0, 2).Select(n => new MarketOp(MarketOpKind.NodeLoss, n))),
        (3, Gen.Choose(5, 400).Select(s => new MarketOp(MarketOpKind.Advance, s))),
        (2, Gen.Constant(new MarketOp(MarketOpKind.Tick, 0))));

    private static readonly Gen<MarketOp[]> Sequences = Gen.Choose(8, 24).SelectMany(n => Op.ArrayOf(n));

    [Fact]
    public async Task RandomSequencesNeverOverbookNeverHoldTwoCopiesAndBillEverySecondOnceAtItsPrice()
    {
        var ledger = new MemoryLedgerStore();
        await using var grid = await GridCluster.StartAsync(ledger, Settings);
        var property = Prop.ForAll(Arb.From(Sequences, Shrink), ops =>
            Task.Run(() => new MarketSequence(grid, ledger).RunAsync(ops)).GetAwaiter().GetResult());
        property.Check(Config.QuickThrowOnFailure.WithMaxTest(25));
        output.WriteLine(MarketSequence.Stats());
    }

    private static IEnumerable<MarketOp[]> Shrink(MarketOp[] ops) =>
        Enumerable.Range(0, ops.Length).Select(skip => ops.Where((_, i) => i != skip).ToArray());
}
