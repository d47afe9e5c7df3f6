using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Grid.Proxy;
using Grid.Scheduling;
using Grid.Storage;
using Grid.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Grid.Bench.Scenarios;

/// <summary>
/// The grid-proxy reads over real HTTP at the issue's sizes (100k nodes, 1M reservations; tiny uses the memory
/// sizes): a filtered, sorted <c>/nodes</c> page over the capacity view and <c>/contracts</c> of one twin, first from
/// the in-memory read model, then, when PostgreSQL is there, from the durable read model's tables. Only the view and
/// the read model are read on this path, so they are filled directly: node summaries, <c>reservation.placed</c>
/// entries folded by the in-memory model, and for PostgreSQL the same contracts copied (COPY) into
/// <c>grid_proxy_contract</c> as the projector would have left them. The projector's own speed is measured apart,
/// folding ledger entries from <c>grid_ledger_entry</c>. Each answer's <c>count</c> header is checked.
/// </summary>
public static class ProxyScenario
{
    private const int Farms = 100;
    private const int ReservationsPerTwin = 50;
    private const int Clients = 4;
    private static readonly string[] Countries = ["Belgium", "Egypt", "Austria", "Germany", "Brazil", "India", "Kenya", "Japan", "Chile", "Canada"];
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static async Task RunAsync(BenchScale scale, List<BenchRow> rows, string postgres)
    {
        var (nodes, reservations) = scale.Name == "tiny" ? (scale.MemoryNodes, scale.MemoryReservations) : (100_000, 1_000_000);
        var requests = scale.Name == "tiny" ? 100 : 1_000;
        var folded = scale.Name == "tiny" ? 2_000 : 20_000;
        var twins = Math.Max(1, reservations / ReservationsPerTwin);
        var summaries = Enumerable.Range(1, nodes).Select(Summary).ToList();

        // The reads are anonymous: per-IP rate limiting would measure the limiter, not the reads.
        await using (var host = await BenchHost.StartAsync("--Grid:Limits:RateLimiting=false"))
        {
            // First a tenth of the grid, for the ratio (the same pages at a tenth of the nodes), then all of it.
            var view = host.Services.GetRequiredService<CapacityView>();
            var tenth = summaries.Take(nodes / 10).ToList();
            tenth.ForEach(view.Update);
            await MeasureNodesAsync(host, tenth, requests, rows);
            summaries.Skip(nodes / 10).ToList().ForEach(view.Update);
            var model = host.Services.GetRequiredService<ProxyReadModel>();
            var fill = new Progress($"proxy: {reservations} reservations into the read model", reservations);
            for (var from = 0; from < reservations; from += 10_000)
            {
                model.Apply(Enumerable.Range(from, Math.Min(10_000, reservations - from)).Select(i => Placed(Contract(i, twins))));
                fill.Add(Math.Min(10_000, reservations - from));
            }

            fill.Done();
            await MeasureNodesAsync(host, summaries, requests, rows);
            await MeasureContractsAsync(host, "in memory", reservations, twins, requests, rows);
        }

        await BenchRunner.WithPostgresAsync(postgres, "proxy: read model on PostgreSQL", async database =>
        {
            var fold = await FoldAsync(await database("grid_proxy_fold"), folded, twins);
            rows.Add(new BenchRow("proxy", $"{folded} ledger entries, PostgreSQL", "projector fold, entries/s", fold, "1/s"));
            var read = await database("grid_proxy_bench");
            await using var host = await BenchHost.StartAsync("--Grid:Limits:RateLimiting=false", "--Grid:Storage=postgres", $"--ConnectionStrings:Grid={read}");
            await CopyContractsAsync(read, reservations, twins);
            await MeasureContractsAsync(host, "PostgreSQL", reservations, twins, requests, rows);
        });
    }

    /// <summary>
    /// A filtered, sorted page two of <c>/nodes</c> (up, at least 16 GiB free memory, by free CPU descending), once in one
    /// country (a tenth of the nodes, all of them matching) and once over every country (nine tenths match).
    /// </summary>
    private static async Task MeasureNodesAsync(BenchHost host, List<NodeSummary> summaries, int requests, List<BenchRow> rows)
    {
        const long freeMru = 16L << 30;
        // The node index catches up with the view within a second of reads; the pages are measured after.
        var indexed = Stopwatch.StartNew();
        while (!await CountIsAsync(host, "/nodes?size=1&ret_count=true", summaries.Count))
        {
            if (indexed.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new BenchFailedException($"proxy: /nodes did not count {summaries.Count} nodes within 30 s");
            }

            await Task.Delay(50);
        }

        (string Case, string? Country)[] cases = [("one country", "Egypt"), ("all countries", null)];
        foreach (var (name, country) in cases)
        {
            var path = $"/nodes?status=up&free_mru={freeMru}{(country is null ? "" : "&country=" + country)}&sort_by=free_cru&sort_order=desc&page=2&size=50&ret_count=true";
            var expected = summaries.Count(s => s.Status == NodeStatus.Up && s.Free.Mru >= freeMru && (country is null || s.Location.Country == country));

            // Not counted: the first requests pay for the JIT of the query, routing and serialization paths.
            await Measure.RunAsync(requests / 10, Clients, _ => CountIsAsync(host, path, expected), new Progress("proxy: warm-up", requests / 10));
            var outcome = await Measure.RunAsync(requests, Clients, _ => CountIsAsync(host, path, expected),
                new Progress($"proxy: {requests} /nodes pages ({summaries.Count} nodes, {name}, {expected} match)", requests));
            if (outcome.Failures > 0)
            {
                throw new BenchFailedException($"proxy: {outcome.Failures} /nodes answers had a wrong count");
            }

            var nodeCase = $"{summaries.Count} nodes, {name} ({expected} match), {Clients} clients";
            var atGoal = summaries.Count >= 100_000;
            rows.Add(new BenchRow("proxy", nodeCase, "/nodes filtered+sorted page, p99", outcome.P99Ms, "ms",
                atGoal ? "< 50 ms at 100k nodes" : null, atGoal ? outcome.P99Ms < 50 : null));
            rows.Add(new BenchRow("proxy", nodeCase, "/nodes pages/s", outcome.PerSecond, "1/s"));
        }
    }

    private static async Task MeasureContractsAsync(BenchHost host, string readModel, int reservations, int twins, int requests, List<BenchRow> rows)
    {
        var perTwin = Enumerable.Range(0, twins).Select(t => (reservations / twins) + (t < reservations % twins ? 1 : 0)).ToArray();
        string PathOf(long i) => $"/contracts?twin_id={1 + (i % twins)}&state=Created&sort_by=created_at&sort_order=desc&size=50&ret_count=true";
        await Measure.RunAsync(requests / 10, Clients, i => CountIsAsync(host, PathOf(i), perTwin[i % twins]), new Progress("proxy: warm-up", requests / 10));
        var outcome = await Measure.RunAsync(requests, Clients, i => CountIsAsync(host, PathOf(i), perTwin[i % twins]),
            new Progress($"proxy: {requests} /contracts by twin ({readModel})", requests));
        if (outcome.Failures > 0)
        {
            throw new BenchFailedException($"proxy: {outcome.Failures} /contracts answers ({readModel}) had a wrong count");
        }

        var contractCase = $"{reservations} reservations, {readModel}, {Clients} clients";
        rows.Add(new BenchRow("proxy", contractCase, "/contracts by twin, p99", outcome.P99Ms, "ms", "< 50 ms at 1M reservations", outcome.P99Ms < 50));
        rows.Add(new BenchRow("proxy", contractCase, "/contracts pages/s", outcome.PerSecond, "1/s"));
    }

    /// <summary>The same contracts the in-memory model folded, copied into the projector's table (and its twins).</summary>
    private static async Task CopyContractsAsync(string database, int reservations, int twins)
    {
        var progress = new Progress($"proxy: {reservations} contracts into PostgreSQL", reservations);
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY grid_proxy_contract (contract_id, twin_id, state, created_at, node_id, farm_id, public_ips) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < reservations; i++)
            {
                var c = Contract(i, twins);
                await copy.StartRowAsync();
                await copy.WriteAsync(c.ContractId, NpgsqlDbType.Bigint);
                await copy.WriteAsync(c.TwinId, NpgsqlDbType.Bigint);
                await copy.WriteAsync(c.State, NpgsqlDbType.Text);
                await copy.WriteAsync(c.CreatedAt, NpgsqlDbType.Bigint);
                await copy.WriteAsync(c.NodeId, NpgsqlDbType.Bigint);
                await copy.WriteAsync(c.FarmId, NpgsqlDbType.Bigint);
                await copy.WriteAsync(c.PublicIps, NpgsqlDbType.Integer);
                if (i % 10_000 == 9_999)
                {
                    progress.Add(10_000);
                }
            }

            await copy.CompleteAsync();
        }

        await using (var twinRows = new NpgsqlCommand(
            string.Create(CultureInfo.InvariantCulture, $"INSERT INTO grid_proxy_twin (twin_id, name) SELECT t, 'bench' FROM generate_series(1, {twins}) t; ANALYZE grid_proxy_contract; ANALYZE grid_proxy_twin"),
            connection))
        {
            await twinRows.ExecuteNonQueryAsync();
        }

        progress.Done();
    }

    /// <summary>Entries/s of the projector folding placements and their bills from the ledger table into its own.</summary>
    private static async Task<double> FoldAsync(string database, int count, int twins)
    {
        await PostgresSchema.ApplyAsync(database, ProxySchema.Scripts);
        await using var source = NpgsqlDataSource.Create(database);
        var ledger = new PostgresLedgerStore(source);
        var entries = Enumerable.Range(0, count / 2)
            .SelectMany(i => new[] { Placed(Contract(i, twins)), Billed(Contract(i, twins)) })
            .Select((e, seq) => e with { Seq = seq + 1, EventId = $"{e.EventId}:{seq + 1}" });
        foreach (var chunk in entries.Chunk(2_000))
        {
            await ledger.AppendAsync(chunk);
        }

        var projector = new PostgresProxyProjector(source, Options.Create(new ProxyOptions()), TimeProvider.System, NullLogger<PostgresProxyProjector>.Instance);
        var clock = Stopwatch.StartNew();
        var folded = await projector.CatchUpAsync(CancellationToken.None);
        clock.Stop();
        if (folded != count)
        {
            throw new BenchFailedException($"proxy: the projector folded {folded} of {count} entries");
        }

        return folded / clock.Elapsed.TotalSeconds;
    }

    /// <summary>A 200 whose <c>count</c> header is <paramref name="expected"/>.</summary>
    private static async Task<bool> CountIsAsync(BenchHost host, string path, int expected)
    {
        using var response = await host.Client.GetAsync(path);
        return response.IsSuccessStatusCode
            && response.Headers.TryGetValues("count", out var count)
            && count.Single() == expected.ToString(CultureInfo.InvariantCulture);
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

    /// <summary>Reservation <paramref name="i"/> as a contract: twins in turn, placed one second after the previous.</summary>
    private static ContractRow Contract(int i, int twins) =>
        new(i + 1, 1 + (i % twins), ProxyReadModel.Created, T0.AddSeconds(i).ToUnixTimeSeconds(), 1 + (i % 1000), 1 + (i % Farms), 0);

    private static LedgerEntry Placed(ContractRow c) =>
        Entry(c, "reservation.placed", null, string.Create(CultureInfo.InvariantCulture,
            $$"""{"reservationId":{{c.ContractId}},"twinId":{{c.TwinId}},"nodeId":{{c.NodeId}},"farmId":{{c.FarmId}},"epoch":1,"publicIps":{{c.PublicIps}}}"""));

    private static LedgerEntry Billed(ContractRow c) =>
        Entry(c, "bill", 1_000_000, string.Create(CultureInfo.InvariantCulture,
            $$"""{"reservationId":{{c.ContractId}},"sequence":1,"to":"{{T0.AddHours(1):O}}","amount":1000000,"twinId":{{c.TwinId}}}"""));

    private static LedgerEntry Entry(ContractRow c, string kind, long? amount, string details) =>
        new(c.ContractId, DateTimeOffset.FromUnixTimeSeconds(c.CreatedAt), kind, $"{kind}:{c.ContractId}", "twin", "reservation",
            amount, ImmutableArray<Posting>.Empty, details, new string('0', 64), new string('0', 64));
}
