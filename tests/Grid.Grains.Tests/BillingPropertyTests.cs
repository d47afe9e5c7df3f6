using FsCheck;
using FsCheck.Fluent;
using Grid.Ledger;
using Xunit.Abstractions;

namespace Grid.Grains.Tests;

public enum BillingOpKind
{
    Place,
    Drain,
    Silence,
    Revive,
    Cancel,
    Advance,
    Tick,
    Deposit,
    Withdraw,
}

/// <summary>One step of a random billing sequence; what A, B and C mean depends on the kind (see <see cref="BillingSequence"/>).</summary>
public sealed record BillingOp(BillingOpKind Kind, int A, int B = 0, int C = 0)
{
    public override string ToString() => $"new({Kind}, {A}, {B}, {C})";
}

/// <summary>
/// The economy as a property: random sequences of place / move (drain) / node down (silence until declared down) /
/// node up / cancel / time passing / billing ticks / deposits / withdrawals on one in-memory grid in prepaid mode,
/// grid time driven by the test. After each sequence everything is checked from the ledger against the test's own
/// model (see <see cref="BillingSequence"/>): debits equal credits, every bill is in the ledger exactly once and
/// covers exactly the seconds served in its period (never down, lost or grace time), and every balance is
/// deposits − spending + earnings − withdrawals.
/// </summary>
[Collection(PrepaidCollection.Name)]
public sealed class BillingPropertyTests(ITestOutputHelper output)
{
    /// <summary>Billing settings of the property's grid: short cycles, a timeout longer than the settle delay.</summary>
    internal static readonly (string Key, string Value)[] Settings =
    [
        ("Grid:Billing:Mode", "prepaid"), ("Grid:Billing:Cycle", "00:10:00"), ("Grid:Billing:GracePeriod", "00:20:00"),
        ("Grid:Billing:TickInterval", "01:00:00"), ("Grid:Health:HeartbeatTimeout", "00:01:30"),
        ("Grid:Health:RejoinAfter", "00:00:00"), ("Grid:Health:RetryBackoff", "00:00:00.100"),
        ("Grid:Health:MassFailureShare", "1"),   // no brake: moves must not wait for grid time that stands still
    ];

    private static readonly Gen<BillingOp> Op = Gen.Frequency(
        (6, from tenant in Gen.Choose(0, 1) from size in Gen.Choose(1, 2) from pin in Gen.Choose(-4, 3)
            select new BillingOp(BillingOpKind.Place, tenant, size, pin)),
        (2, Gen.Choose(0, 3).Select(n => new BillingOp(BillingOpKind.Drain, n))),
        (3, Gen.Choose(0, 3).Select(n => new BillingOp(BillingOpKind.Silence, n))),
        (3, Gen.Choose(0, 3).Select(n => new BillingOp(BillingOpKind.Revive, n))),
        (2, Gen.Choose(0, 7).Select(n => new BillingOp(BillingOpKind.Cancel, n))),
        (3, Gen.Choose(5, 120).Select(s => new BillingOp(BillingOpKind.Advance, s))),
        (3, Gen.Choose(120, 700).Select(s => new BillingOp(BillingOpKind.Advance, s))),
        (4, Gen.Constant(new BillingOp(BillingOpKind.Tick, 0))),
        (2, from tenant in Gen.Choose(0, 1) from amount in Gen.Choose(1, 5) select new BillingOp(BillingOpKind.Deposit, tenant, amount)),
        (1, from farmer in Gen.Choose(0, 1) from amount in Gen.Choose(1, 10) select new BillingOp(BillingOpKind.Withdraw, farmer, amount)));

    private static readonly Gen<BillingOp[]> Sequences = Gen.Choose(8, 30).SelectMany(n => Op.ArrayOf(n));

    [Fact]
    public async Task RandomSequencesKeepTheLedgerBalancedAndBillOnlyServedSeconds()
    {
        var ledger = new MemoryLedgerStore();
        await using var grid = await GridCluster.StartAsync(ledger, Settings);
        var property = Prop.ForAll(Arb.From(Sequences, Shrink), ops =>
            // Off the test's synchronization context: FsCheck runs the property synchronously.
            Task.Run(() => new BillingSequence(grid, ledger).RunAsync(ops)).GetAwaiter().GetResult());
        property.Check(Config.QuickThrowOnFailure.WithMaxTest(40));
        output.WriteLine(BillingSequence.Stats.ToString());
    }

    /// <summary>Shorter sequences first: each without one of its steps.</summary>
    private static IEnumerable<BillingOp[]> Shrink(BillingOp[] ops) =>
        Enumerable.Range(0, ops.Length).Select(skip => ops.Where((_, i) => i != skip).ToArray());
}

/// <summary>Tests that run the grid in prepaid mode share the process-wide grace gauge: one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class PrepaidCollection
{
    public const string Name = "prepaid";
}
