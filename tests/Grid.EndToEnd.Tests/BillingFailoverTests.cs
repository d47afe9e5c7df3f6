using System.Diagnostics;
using System.Text.Json.Nodes;
using Grid.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// Billing is exactly once across kill -9: three silos on PostgreSQL bill tens of reservations on a 10 s cycle,
/// and the silo holding the ledger writer (where every bill becomes durable) is killed while bills are being
/// made, twice, with a fresh silo started after the first kill. The cluster recovers and bills on; then every
/// reservation is cancelled (a final bill each). Read back from the ledger table, each reservation's bills must tile
/// exactly the time from its placement to its cancel: sequence numbers 1..n, bill ids unique, each period starting
/// where the previous one ended and ending on the reservation's boundary, every second of it billed (its nodes
/// never went down); every bill's debit equals its credits, and the accounts show what the ledger says.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class BillingFailoverTests(SharedPostgres shared, ITestOutputHelper output)
{
    private const int Reservations = 40;
    private const int CycleSeconds = 10;
    private const string LedgerActive = "Ledger active at sequence";

    [Fact]
    public async Task KillingTheLedgerSiloMidCycleNeitherBillsTwiceNorSkips()
    {
        var postgres = shared.Server;
        var database = await postgres.CreateDatabaseAsync("grid_billing_failover");
        await using var grid = new GridProcesses();
        string[] settings =
        [
            .. ClusterFailoverTests.ClusterSettings(database),
            // Nodes heartbeat throughout; a silo loss must not get them declared down (each bill covers its whole period).
            // Generous: on a loaded machine the test's heartbeats can hang for tens of seconds on a node grain whose
            // silo was just killed, until Orleans declares that silo dead.
            "--Grid:Health:HeartbeatTimeout=00:02:00",
            $"--Grid:Billing:Cycle=00:00:{CycleSeconds}", "--Grid:Billing:SettleDelay=00:00:01", "--Grid:Billing:TickInterval=00:00:01",
            "--Logging:LogLevel:Grid.Ledger.LedgerGrain=Information",
        ];
        for (var i = 0; i < 3; i++)
        {
            grid.StartSilo(settings);
        }

        await Task.WhenAll(grid.Silos.Select(GridProcesses.WaitReadyAsync));
        var farmerKey = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "farmer" }, 201))["apiKey"]!.GetValue<string>();
        var tenantKey = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "tenant" }, 201))["apiKey"]!.GetValue<string>();
        var farmId = (await grid.SendAsync(HttpMethod.Post, "/api/v1/farms", farmerKey, new { name = "billing-farm" }, 201))["farmId"]!.GetValue<long>();
        var nodes = new List<(long NodeId, string NodeKey)>();
        for (var i = 0; i < 3; i++)
        {
            var node = await grid.SendAsync(HttpMethod.Post, "/api/v1/nodes", farmerKey,
                new { farmId, resources = new { cru = 64, mru = 64L << 30 }, location = new { country = "Belgium" } }, 201);
            nodes.Add((node["nodeId"]!.GetValue<long>(), node["nodeKey"]!.GetValue<string>()));
        }

        var load = new ClusterLoad(grid, tenantKey);
        using var stop = new CancellationTokenSource();
        var heartbeats = load.HeartbeatAsync(nodes, stop.Token);
        await Poll.UntilAsync(async () => (await Task.WhenAll(nodes.Select(n => ClusterInvariants.GetAsync(grid, grid.Silos[0], $"/api/v1/nodes/{n.NodeId}", farmerKey))))
            .All(n => n?["status"]?.GetValue<string>() == "up"), TimeSpan.FromSeconds(30), "the nodes are up");

        var created = new Dictionary<long, DateTimeOffset>();
        foreach (var chunk in Enumerable.Range(0, Reservations).Chunk(10))
        {
            foreach (var reservation in await Task.WhenAll(chunk.Select(i => grid.ReserveAsync(tenantKey, new { resources = new { cru = 1, mru = 256L << 20 } }, $"billing-{i}", whileNothingFits: true))))
            {
                created[reservation["reservationId"]!.GetValue<long>()] = reservation["createdAt"]!.GetValue<DateTimeOffset>();
            }
        }

        // Two kills of whichever silo holds the ledger writer at that moment, each while bills are being appended.
        var killedAt = DateTimeOffset.MinValue;
        for (var round = 1; round <= 2; round++)
        {
            var victim = await LedgerHostAsync(grid, load, round);
            var before = await CountBillsAsync(database);
            // Killed the moment new bills land, so the ledger's next batch and the billed reservations' cursor writes are in flight.
            await Poll.UntilAsync(async () => await CountBillsAsync(database) >= before + 5, TimeSpan.FromSeconds(60), "bills are being made");
            var landed = await CountBillsAsync(database);
            try
            {
                await Poll.UntilAsync(async () => await CountBillsAsync(database) != landed, TimeSpan.FromSeconds(CycleSeconds), "the next bills",
                    maxPause: TimeSpan.FromMilliseconds(5));
            }
            catch (TimeoutException)
            {
                // No further bills within a cycle: the kill lands now, still in a cycle with bills in flight.
            }

            load.Down[victim] = 0;
            using (var process = Process.GetProcessById(grid.Silos[victim].Process.Pid))
            {
                process.Kill(entireProcessTree: false);
            }

            killedAt = DateTimeOffset.UtcNow;
            var atKill = await CountBillsAsync(database);
            if (round == 1)
            {
                // Three silos again for the second kill: a fresh one, started while the survivors take over.
                grid.StartSilo(settings);
            }

            var clock = Stopwatch.StartNew();
            await Poll.UntilAsync(async () => await CountBillsAsync(database) >= atKill + 5, TimeSpan.FromSeconds(60), $"billing goes on after kill {round}");
            output.WriteLine($"round {round}: killed silo {victim} (ledger host) with {atKill} bills in the ledger; billing again {clock.Elapsed.TotalSeconds:0.0} s later");
            if (round == 1)
            {
                await GridProcesses.WaitReadyAsync(grid.Silos[^1]);
            }
        }

        // Every reservation billed past the last kill: the cluster recovered and bills on.
        await Poll.UntilAsync(async () =>
        {
            var ledger = await ReadBillsAsync(database);
            return created.Keys.All(id => ledger.TryGetValue(id, out var list) && list[^1].To > killedAt.AddSeconds(1));
        }, TimeSpan.FromSeconds(60), "every reservation is billed for a period after the last kill");

        var cancelled = await CancelAllAsync(grid, load, tenantKey, created.Keys);
        Dictionary<long, List<BillRow>> bills = [];
        await Poll.UntilAsync(async () =>
        {
            bills = await ReadBillsAsync(database);
            return cancelled.All(c => bills[c.Key][^1].To >= Second(c.Value.Sent));
        }, TimeSpan.FromSeconds(60), "every cancelled reservation has its final bill");

        // The premise of "every second billed": no node was declared down (a lost node's time is rightly not billed).
        Assert.Equal(0, await ScalarAsync(database, "SELECT count(*) FROM grid_ledger_entry WHERE kind = 'node.down'"));
        Assert.Equal(created.Keys.Order(), bills.Keys.Order());
        foreach (var (id, list) in bills)
        {
            AssertTiled(id, list, created[id], cancelled[id]);
        }

        await AssertMoneyBalancesAsync(grid, LiveSilo(grid, load), database, tenantKey, farmerKey, bills.Values.SelectMany(b => b).Sum(b => b.Amount));

        var verify = await ChildProcess.RunAsync("dotnet",
            [BuiltApp.PathOf("Grid.Cli", "grid.dll"), "ledger", "verify", "--api", LiveSilo(grid, load).Api.ToString().TrimEnd('/'), "--api-key", tenantKey],
            TimeSpan.FromSeconds(60));
        Assert.True(verify.ExitCode == 0, verify.Output);
        // Informational: appends a survivor found already stored (retried after a kill), and bills whose cursor was re-derived.
        var retried = grid.Silos.Sum(s => s.Process.Output.Split("refused by the store").Length - 1);
        var adopted = grid.Silos.Sum(s => s.Process.Output.Split("cursor re-derived").Length - 1);
        output.WriteLine($"{bills.Values.Sum(b => b.Count)} bills of {bills.Count} reservations, each tiling its lifetime exactly; "
            + $"{retried} batches re-sent after a kill found already stored, {adopted} bills adopted; ledger verified");
        Console.WriteLine($"[billing] {bills.Values.Sum(b => b.Count)} bills over two kill -9 of the ledger's silo: none twice, none missing");

        await stop.CancelAsync();
        await heartbeats;
    }

    /// <summary>Each period starts where the previous ended, ends on the reservation's boundary, and is billed in full.</summary>
    private static void AssertTiled(long id, List<BillRow> bills, DateTimeOffset createdAt, (DateTimeOffset Sent, DateTimeOffset Answered) cancel)
    {
        var what = $"reservation {id}: " + string.Join(", ", bills.Select(b => $"#{b.Sequence} {b.From:HH:mm:ss}-{b.To:HH:mm:ss}"));
        Assert.True(bills.Select(b => b.Sequence).SequenceEqual(Enumerable.Range(1, bills.Count).Select(i => (long)i)), $"sequence numbers not 1..n: {what}");
        Assert.True(bills.All(b => b.BillId == $"bill:{id}:{b.Sequence}" && b.EventId == b.BillId), $"bill ids: {what}");
        Assert.True(bills[0].From == Second(createdAt), $"first bill does not start at the placement ({createdAt:O}): {what}");
        for (var i = 0; i < bills.Count; i++)
        {
            var bill = bills[i];
            Assert.True(i == 0 || bills[i - 1].To == bill.From, $"gap or overlap before bill #{bill.Sequence}: {what}");
            Assert.True(bill.To > bill.From, $"empty period in bill #{bill.Sequence}: {what}");
            Assert.True(i == bills.Count - 1 || bill.To.ToUnixTimeSeconds() % CycleSeconds == id % CycleSeconds,
                $"bill #{bill.Sequence} does not end on the reservation's boundary: {what}");
            Assert.True(bill.Seconds == (long)(bill.To - bill.From).TotalSeconds, $"bill #{bill.Sequence} bills {bill.Seconds} s of its period: {what}");
            Assert.True(bill.Amount > 0 && bill.Amount == bill.LinesAmount, $"bill #{bill.Sequence} amount {bill.Amount} is not its lines' {bill.LinesAmount}");
        }

        var last = bills[^1].To;
        Assert.True(last >= Second(cancel.Sent) && last <= cancel.Answered, $"final bill ends at {last:O}, not at the cancel ({cancel.Sent:O}-{cancel.Answered:O}): {what}");
    }

    /// <summary>Debits equal credits in every bill and overall; the account grains show what the ledger holds.</summary>
    private static async Task AssertMoneyBalancesAsync(GridProcesses grid, SiloProcess via, string database, string tenantKey, string farmerKey, long billed)
    {
        Assert.Equal(0, await ScalarAsync(database, "SELECT coalesce(sum(amount), 0) FROM grid_ledger_posting"));
        Assert.Equal(0, await ScalarAsync(database,
            """
            SELECT count(*) FROM grid_ledger_entry e
            WHERE e.kind = 'bill' AND (
                (SELECT sum(amount) FROM grid_ledger_posting p WHERE p.seq = e.seq) <> 0
                OR (SELECT -sum(amount) FROM grid_ledger_posting p WHERE p.seq = e.seq AND p.amount < 0) <> e.amount)
            """));
        var tenantId = (await ClusterInvariants.GetAsync(grid, via, "/api/v1/account", tenantKey))!["twinId"]!.GetValue<long>();
        var farmerId = (await ClusterInvariants.GetAsync(grid, via, "/api/v1/account", farmerKey))!["twinId"]!.GetValue<long>();
        Assert.Equal(-billed, await ScalarAsync(database, $"SELECT coalesce(sum(amount), 0) FROM grid_ledger_posting WHERE account_id = {tenantId}"));
        var earned = await ScalarAsync(database, $"SELECT coalesce(sum(amount), 0) FROM grid_ledger_posting WHERE account_id = {farmerId}");
        Assert.True(earned > 0 && earned < billed, $"the farmer earned {earned} of {billed}");

        await Poll.UntilAsync(async () =>
        {
            var tenant = await ClusterInvariants.GetAsync(grid, via, "/api/v1/account", tenantKey);
            var farmer = await ClusterInvariants.GetAsync(grid, via, "/api/v1/account", farmerKey);
            return tenant is not null && farmer is not null && tenant["spent"]!.GetValue<long>() == billed && tenant["balance"]!.GetValue<long>() == -billed
                && farmer["earned"]!.GetValue<long>() == earned && farmer["balance"]!.GetValue<long>() == earned;
        }, TimeSpan.FromSeconds(30), $"the accounts show the ledger's totals (billed {billed}, earned {earned})");
    }

    /// <summary>The live silo that logged the ledger's activation last (waits for one when the ledger has not moved yet).</summary>
    private static async Task<int> LedgerHostAsync(GridProcesses grid, ClusterLoad load, int round)
    {
        var host = -1;
        await Poll.UntilAsync(() =>
        {
            var hosts = Enumerable.Range(0, grid.Silos.Count).Where(i => !load.Down.ContainsKey(i) && grid.Silos[i].Process.Output.Contains(LedgerActive, StringComparison.Ordinal)).ToList();
            host = hosts.Count == 1 ? hosts[0] : -1;
            return host >= 0;
        }, TimeSpan.FromSeconds(60), $"one live silo hosts the ledger (round {round})");
        return host;
    }

    private static SiloProcess LiveSilo(GridProcesses grid, ClusterLoad load) =>
        grid.Silos[Enumerable.Range(0, grid.Silos.Count).First(i => !load.Down.ContainsKey(i))];

    private static async Task<Dictionary<long, (DateTimeOffset Sent, DateTimeOffset Answered)>> CancelAllAsync(
        GridProcesses grid, ClusterLoad load, string key, IEnumerable<long> ids)
    {
        var cancelled = new Dictionary<long, (DateTimeOffset, DateTimeOffset)>();
        foreach (var id in ids)
        {
            var sent = DateTimeOffset.UtcNow;
            await Poll.UntilAsync(async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/reservations/{id}");
                request.Headers.Authorization = new("Bearer", key);
                try
                {
                    using var response = await LiveSilo(grid, load).Http.SendAsync(request);
                    return response.StatusCode == System.Net.HttpStatusCode.NoContent;
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(30), $"reservation {id} is cancelled");
            cancelled[id] = (sent, DateTimeOffset.UtcNow);
        }

        return cancelled;
    }

    private static async Task<long> CountBillsAsync(string database) =>
        await ScalarAsync(database, "SELECT count(*) FROM grid_ledger_entry WHERE kind = 'bill'");

    /// <summary>Every bill in the ledger table, by reservation, in sequence-number order of the ledger.</summary>
    private static async Task<Dictionary<long, List<BillRow>>> ReadBillsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT event_id, details FROM grid_ledger_entry WHERE kind = 'bill' ORDER BY seq", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var bills = new Dictionary<long, List<BillRow>>();
        while (await reader.ReadAsync())
        {
            var details = JsonNode.Parse(reader.GetString(1))!;
            var lines = details["lines"]!.AsArray();
            var bill = new BillRow(reader.GetString(0), details["billId"]!.GetValue<string>(), details["sequence"]!.GetValue<long>(),
                details["from"]!.GetValue<DateTimeOffset>(), details["to"]!.GetValue<DateTimeOffset>(), details["amount"]!.GetValue<long>(),
                lines.Sum(l => l!["seconds"]!.GetValue<long>()), lines.Sum(l => l!["amount"]!.GetValue<long>()));
            var id = details["reservationId"]!.GetValue<long>();
            if (!bills.TryGetValue(id, out var list))
            {
                bills[id] = list = [];
            }

            list.Add(bill);
        }

        foreach (var list in bills.Values)
        {
            list.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        }

        return bills;
    }

    private static async Task<long> ScalarAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static DateTimeOffset Second(DateTimeOffset at) => new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    private sealed record BillRow(string EventId, string BillId, long Sequence, DateTimeOffset From, DateTimeOffset To, long Amount, long Seconds, long LinesAmount);
}
