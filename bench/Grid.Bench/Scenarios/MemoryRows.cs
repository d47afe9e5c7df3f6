using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Grid.Billing;
using Grid.Ledger;
using Grid.Proxy;
using Microsoft.Extensions.Options;

namespace Grid.Bench.Scenarios;

/// <summary>
/// Bytes per row of the read models a reservation feeds, each measured alone (heap before and after folding N
/// synthetic ledger entries into a fresh model; the entries themselves are dropped first): the grid-proxy
/// contract and bill rows, the earnings index's (farm, node, day) row and a billing bucket's member id.
/// </summary>
public static class MemoryRows
{
    private const int Rows = 200_000;
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static void Measure(List<BenchRow> rows)
    {
        const string case_ = "read-model rows, each model alone";
        var model = new ProxyReadModel();
        var before = MemoryScenario.Heap();
        for (var from = 0; from < Rows; from += 10_000)
        {
            model.Apply(Enumerable.Range(from, 10_000).Select(i => Entry(i + 1, "reservation.placed", null, Placed(i))));
        }

        var afterContracts = MemoryScenario.Heap();
        for (var from = 0; from < Rows; from += 10_000)
        {
            model.Apply(Enumerable.Range(from, 10_000).Select(i => Entry(Rows + i + 1, LedgerKinds.Bill, 1_000, BillJson(i, i))));
        }

        var afterBills = MemoryScenario.Heap();
        rows.Add(new BenchRow("memory", case_, "bytes per grid-proxy contract row", (afterContracts - before) / (double)Rows, "B"));
        rows.Add(new BenchRow("memory", case_, "bytes per grid-proxy bill row", (afterBills - afterContracts) / (double)Rows, "B"));
        GC.KeepAlive(model);

        rows.Add(new BenchRow("memory", case_, "bytes per earnings index row (node × day)", EarningsRow(), "B"));
        rows.Add(new BenchRow("memory", case_, "bytes per billing bucket member", BucketMember(), "B"));
    }

    /// <summary>Bills of distinct nodes (one day), so each is a row of its own.</summary>
    private static double EarningsRow()
    {
        var ledger = new MemoryLedgerStore();
        for (var from = 0; from < Rows; from += 10_000)
        {
            ledger.AppendAsync([.. Enumerable.Range(from, 10_000).Select(i => Entry(i + 1, LedgerKinds.Bill, 1_000, BillJson(i, i)))]).GetAwaiter().GetResult();
        }

        var index = new EarningsIndex(ledger, Options.Create(new BillingOptions()));
        var before = MemoryScenario.Heap();
        index.GetAsync(1, T0, T0.AddDays(2)).GetAwaiter().GetResult();
        var after = MemoryScenario.Heap();
        GC.KeepAlive(index);
        GC.KeepAlive(ledger);
        return (after - before) / (double)Rows;
    }

    /// <summary>A bucket's durable member set as its grain holds it.</summary>
    private static double BucketMember()
    {
        var before = MemoryScenario.Heap();
        var state = new BillingBucketState();
        for (var i = 0L; i < Rows; i++)
        {
            state.ReservationIds.Add(1_000_000_000 + (i * 64));
        }

        var after = MemoryScenario.Heap();
        GC.KeepAlive(state);
        return (after - before) / (double)Rows;
    }

    private static string Placed(int i) => string.Create(CultureInfo.InvariantCulture,
        $$"""{"reservationId":{{i + 1}},"twinId":{{1 + (i % 20_000)}},"nodeId":{{1 + (i % 10_000)}},"farmId":{{1 + (i % 100)}},"epoch":1,"publicIps":0,"ips":[]}""");

    private static string BillJson(int reservation, int node)
    {
        var line = new BillLine(1 + node, 1, 3_600, 1m, 1m, 0, 1_000);
        var bill = new Bill($"bill:{reservation + 1}:1", reservation + 1, 1, T0, T0.AddHours(1), 1_000, [line], 1 + (reservation % 20_000));
        return JsonSerializer.Serialize(bill, BillingEvents.Json);
    }

    private static LedgerEntry Entry(long seq, string kind, long? amount, string details) =>
        new(seq, T0, kind, $"{kind}:{seq}", "grid", "reservation", amount, ImmutableArray<Posting>.Empty, details, "", "");
}
