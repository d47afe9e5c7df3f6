using System.Collections.Immutable;
using System.Globalization;
using Grid.Host.Proxy;
using Grid.Scheduling;

namespace Grid.Bench.Scenarios;

/// <summary>
/// The grid-proxy reads over real HTTP: a filtered, sorted <c>/nodes</c> page over the capacity view and
/// <c>/contracts</c> of one twin over the ledger read model. The view and the read model are filled directly
/// (node summaries and <c>reservation.placed</c> entries), since only they are read on this path; each answer's
/// <c>count</c> header is checked against the count computed from the same data.
/// </summary>
public static class ProxyScenario
{
    private const int Farms = 100;
    private const int ReservationsPerTwin = 50;
    private static readonly string[] Countries = ["Belgium", "Egypt", "Austria", "Germany", "Brazil", "India", "Kenya", "Japan", "Chile", "Canada"];
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static async Task RunAsync(BenchScale scale, List<BenchRow> rows)
    {
        // The reads are anonymous: per-IP rate limiting would measure the limiter, not the reads.
        await using var host = await BenchHost.StartAsync("--Grid:Limits:RateLimiting=false");
        var nodes = scale.MemoryNodes;
        var reservations = scale.MemoryReservations;
        var view = host.Services.GetRequiredService<CapacityView>();
        var model = host.Services.GetRequiredService<ProxyReadModel>();
        var summaries = Enumerable.Range(1, nodes).Select(Summary).ToList();
        summaries.ForEach(view.Update);
        var twins = Math.Max(1, reservations / ReservationsPerTwin);
        var fill = new Progress($"proxy: {reservations} reservations into the read model", reservations);
        for (var from = 0; from < reservations; from += 10_000)
        {
            model.Apply(Enumerable.Range(from, Math.Min(10_000, reservations - from)).Select(i => Placed(i, twins)));
            fill.Add(Math.Min(10_000, reservations - from));
        }

        fill.Done();
        const long freeMru = 16L << 30;
        var nodePath = $"/nodes?status=up&free_mru={freeMru}&country=Belgium&sort_by=free_cru&sort_order=desc&page=2&size=50&ret_count=true";
        var expectedNodes = summaries.Count(s => s.Status == NodeStatus.Up && s.Free.Mru >= freeMru && s.Location.Country == "Belgium");
        var requests = scale.Name == "tiny" ? 100 : 1_000;
        const int clients = 4;

        // Not counted: the first requests pay for the JIT of the query, routing and serialization paths.
        await Measure.RunAsync(requests / 10, clients, _ => CountIsAsync(host, nodePath, expectedNodes), new Progress("proxy: warm-up", requests / 10));
        await Measure.RunAsync(requests / 10, clients, i => CountIsAsync(host, $"/contracts?twin_id={1 + (i % twins)}&ret_count=true&state=Created", -1),
            new Progress("proxy: warm-up", requests / 10));
        var nodeOutcome = await Measure.RunAsync(requests, clients,
            _ => CountIsAsync(host, nodePath, expectedNodes), new Progress($"proxy: {requests} /nodes pages", requests));
        var perTwin = Enumerable.Range(0, twins).Select(t => (reservations / twins) + (t < reservations % twins ? 1 : 0)).ToArray();
        var contractOutcome = await Measure.RunAsync(requests, clients,
            i => CountIsAsync(host, $"/contracts?twin_id={1 + (i % twins)}&state=Created&sort_by=created_at&sort_order=desc&size=50&ret_count=true",
                perTwin[i % twins]),
            new Progress($"proxy: {requests} /contracts by twin", requests));
        if (nodeOutcome.Failures + contractOutcome.Failures > 0)
        {
            throw new BenchFailedException($"proxy: {nodeOutcome.Failures} /nodes and {contractOutcome.Failures} /contracts answers had a wrong count");
        }

        var nodeCase = $"{nodes} nodes, {clients} clients";
        rows.Add(new BenchRow("proxy", nodeCase, "/nodes filtered+sorted page, p99", nodeOutcome.P99Ms, "ms", "< 50 ms at 100k nodes", nodeOutcome.P99Ms < 50));
        rows.Add(new BenchRow("proxy", nodeCase, "/nodes pages/s", nodeOutcome.PerSecond, "1/s"));
        var contractCase = $"{reservations} reservations, {clients} clients";
        rows.Add(new BenchRow("proxy", contractCase, "/contracts by twin, p99", contractOutcome.P99Ms, "ms", "< 50 ms at 1M reservations", contractOutcome.P99Ms < 50));
        rows.Add(new BenchRow("proxy", contractCase, "/contracts pages/s", contractOutcome.PerSecond, "1/s"));
    }

    /// <summary>A 200 whose <c>count</c> header is <paramref name="expected"/> (any count when it is negative).</summary>
    private static async Task<bool> CountIsAsync(BenchHost host, string path, int expected)
    {
        using var response = await host.Client.GetAsync(path);
        return response.IsSuccessStatusCode
            && response.Headers.TryGetValues("count", out var count)
            && (expected < 0 || count.Single() == expected.ToString(CultureInfo.InvariantCulture));
    }

    private static NodeSummary Summary(int i)
    {
        var total = new Capacity(8 + (i % 4 * 8), (16L + (i % 8 * 16)) << 30, 1L << 40, 0);
        var used = new Capacity(i % 8, (long)(i % 5) << 30, 0, 0);
        var status = i % 10 == 0 ? NodeStatus.Down : NodeStatus.Up;
        var created = T0.AddMinutes(i);
        return new NodeSummary(i, 1 + (i % Farms), 1, status, false, null, total, CapacityMath.Free(total, used, 1.0),
            new Location(Countries[i % Countries.Length], "City"), NodeCertification.Diy, [], 1, used, created, created, created);
    }

    private static LedgerEntry Placed(int i, int twins)
    {
        var details = string.Create(CultureInfo.InvariantCulture,
            $$"""{"reservationId":{{i + 1}},"twinId":{{1 + (i % twins)}},"nodeId":{{1 + (i % 1000)}},"farmId":{{1 + (i % Farms)}},"epoch":1,"publicIps":0}""");
        return new LedgerEntry(i + 1, T0.AddSeconds(i), "reservation.placed", $"reservation:{i + 1}:placed:1", "twin", "reservation",
            null, ImmutableArray<Posting>.Empty, details, "", "");
    }
}
