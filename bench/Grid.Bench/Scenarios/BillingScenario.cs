using System.Collections.Immutable;
using System.Diagnostics;
using Grid.Grains;
using Grid.Ledger;
using Grid.Storage;
using Grid.Testing;
using Npgsql;

namespace Grid.Bench.Scenarios;

/// <summary>
/// The economy: one billing cycle in memory (<see cref="BillingCycleScenario"/>), then ledger appends on PostgreSQL
/// through the silo's <see cref="LedgerAppender"/> and the ledger grain (group commit: one transaction per batch,
/// two batches in flight), against a plain one-row-per-transaction
/// INSERT of the same rows, same number of clients, on the same server in the same run. The throwaway server keeps
/// PostgreSQL's default durability here (fsync, synchronous commit), so every commit waits for the disk as it would
/// in production. Checked afterwards: every append stored once, sequence numbers without gaps, every hash recomputes.
/// </summary>
public static class BillingScenario
{
    private const int Clients = 128;
    private const int StoreBatch = 512;
    private const int ManyCallers = 512;

    private const string PeerTable = """
        DROP TABLE IF EXISTS peer_ledger;
        CREATE TABLE peer_ledger (seq bigserial PRIMARY KEY, at timestamptz NOT NULL, kind text NOT NULL, event_id text NOT NULL UNIQUE,
            actor text NOT NULL, subject text NOT NULL, amount bigint, details text, prev_hash char(64) NOT NULL, hash char(64) NOT NULL);
        """;

    public static async Task RunAsync(BenchScale scale, List<BenchRow> rows, string postgres, bool cycle = true)
    {
        if (cycle)
        {
            await BillingCycleScenario.RunAsync(scale, rows);
        }

        await BenchRunner.WithPostgresAsync(postgres, "billing: ledger on PostgreSQL",
            async database => await RunLedgerAppendsAsync(scale, rows, await database("grid_ledger_bench")), durable: true);
    }

    private static async Task RunLedgerAppendsAsync(BenchScale scale, List<BenchRow> rows, string database)
    {
        var appends = scale.LedgerAppends;
        await PostgresSchema.ApplyAsync(database);
        var peer = await RunPeerAsync(database, appends, Clients);
        rows.Add(new BenchRow("billing", $"ledger, plain INSERT per transaction, {Clients} clients", "entries/s", peer.PerSecond, "1/s"));

        var head = await new PostgresLedgerStore(database).ReadHeadAsync();
        await using var silo = await BenchSilo.StartAsync(BenchSilo.QuietHealth(), database);
        // The path every grain of the silo appends through: the silo's appender, one ledger call per batch.
        var appender = silo.Services.GetRequiredService<LedgerAppender>();
        var run = $"bench:{Guid.NewGuid():N}";
        // Warm-up (first activation, JIT tiers, prepared statements) of both paths outside the measurement: without
        // it the first case measured ran up to a third slower than the same case measured second.
        var ledger = silo.Grains.GetGrain<ILedgerGrain>(0);
        var warm = Math.Min(appends / 10, 10_000);
        await Measure.RunAsync(warm, Clients, async i => (await appender.AppendAsync(Bill($"{run}:warm:{i}", i))).Seq > 0, new Progress("billing: ledger warm-up (appender)", warm));
        await Measure.RunAsync(warm, Clients, async i => (await ledger.AppendAsync(Bill($"{run}:warm-direct:{i}", i))).Seq > 0, new Progress("billing: ledger warm-up (grain calls)", warm));
        head = await new PostgresLedgerStore(database).ReadHeadAsync();
        var ours = await Measure.RunAsync(appends, Clients, async i =>
        {
            await appender.AppendAsync(Bill($"{run}:{i}", i));
            return true;
        }, new Progress("billing: ledger appends (appender, group commit)", appends));
        await CheckChainAsync(database, head.Seq, appends);

        rows.Add(new BenchRow("billing", $"ledger appends, group commit, {Clients} clients", "entries/s", ours.PerSecond, "1/s", "≥ 10,000/s", ours.PerSecond >= 10_000));
        rows.Add(new BenchRow("billing", $"ledger appends, group commit, {Clients} clients", "p99 latency", ours.P99Ms, "ms"));
        rows.Add(new BenchRow("billing", "ledger appends, group commit", "ratio to plain INSERT per transaction", ours.PerSecond / peer.PerSecond, "×"));

        // As a billing pass calls it (4 shards × 4 buckets × 32 reservations at once); no peer: 512 connections
        // are more than the server takes.
        var many = await Measure.RunAsync(appends, ManyCallers, async i =>
        {
            await appender.AppendAsync(Bill($"{run}:many:{i}", i));
            return true;
        }, new Progress($"billing: ledger appends (appender, group commit), {ManyCallers} callers", appends));
        rows.Add(new BenchRow("billing", $"ledger appends, group commit, {ManyCallers} callers", "entries/s", many.PerSecond, "1/s", "≥ 10,000/s", many.PerSecond >= 10_000));

        // Before the appender: one ledger grain call and answer per entry (a quarter of the appends).
        var direct = await Measure.RunAsync(appends / 4, Clients, async i =>
        {
            await ledger.AppendAsync(Bill($"{run}:direct:{i}", i));
            return true;
        }, new Progress($"billing: ledger appends, one grain call each, {Clients} clients", appends / 4));
        rows.Add(new BenchRow("billing", $"ledger appends, one grain call per entry, {Clients} clients", "entries/s", direct.PerSecond, "1/s"));

        // The store alone (no grain calls, no accounts told): what PostgreSQL takes in batches of one writer.
        var store = new PostgresLedgerStore(database);
        var storeHead = await store.ReadHeadAsync();
        var clock = Stopwatch.StartNew();
        for (var done = 0; done < appends; done += StoreBatch)
        {
            var batch = new List<LedgerEntry>(StoreBatch);
            for (var i = done; i < Math.Min(appends, done + StoreBatch); i++)
            {
                var entry = LedgerCanonical.Link(storeHead.Seq + 1, storeHead.Hash, DateTimeOffset.UtcNow, Bill($"{run}:store:{i}", i));
                storeHead = new LedgerHead(entry.Seq, entry.Hash);
                batch.Add(entry);
            }

            await store.AppendAsync(batch);
        }

        clock.Stop();
        await CheckChainAsync(database, head.Seq, 3 * appends + (appends / 4));
        rows.Add(new BenchRow("billing", $"ledger store alone, one writer, batches of {StoreBatch}", "entries/s", appends / clock.Elapsed.TotalSeconds, "1/s"));
    }

    /// <summary>A bill of 1,000 minor units: 100 tenants billed, 10 farmers paid, as in a billing cycle (warm accounts).</summary>
    private static LedgerAppend Bill(string eventId, long i) =>
        new(eventId, LedgerKinds.Bill, "grid", $"reservation:{i}", 1_000,
            [new Posting(1 + (i % 100), -1_000), new Posting(1_000 + (i % 10), 900), new Posting(Money.GridAccountId, 100)],
            $"{{\"reservationId\":{i}}}");

    /// <summary>The same rows (hashes included) inserted one per transaction, as a table without batching would.</summary>
    private static async Task<Measure.Outcome> RunPeerAsync(string database, int appends, int clients)
    {
        await using var source = NpgsqlDataSource.Create(
            new NpgsqlConnectionStringBuilder(database) { MaxAutoPrepare = 16, NoResetOnClose = true, MaxPoolSize = clients, Timeout = 60 }.ConnectionString);
        await using (var setup = source.CreateCommand(PeerTable))
        {
            await setup.ExecuteNonQueryAsync();
        }

        // The pool's connections are opened one by one before the clock starts, as pgbench holds its connections:
        // 128 backends forked at once on a busy 2-core machine took longer than a connect timeout (CI, once).
        var opened = new List<NpgsqlConnection>(clients);
        for (var i = 0; i < clients; i++)
        {
            opened.Add(await source.OpenConnectionAsync());
        }

        foreach (var connection in opened)
        {
            await connection.DisposeAsync();
        }

        var outcome = await Measure.RunAsync(appends, clients, async i =>
        {
            var entry = LedgerCanonical.Link(i + 1, LedgerCanonical.GenesisHash, DateTimeOffset.UtcNow,
                new LedgerAppend($"peer:{i}", LedgerKinds.Bill, "grid", $"reservation:{i}", 1_000, ImmutableArray<Posting>.Empty, $"{{\"reservationId\":{i}}}"));
            await using var insert = source.CreateCommand(
                "INSERT INTO peer_ledger (at, kind, event_id, actor, subject, amount, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
            insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = entry.At });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.Kind });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.EventId });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.Actor });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.Subject });
            insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = entry.Amount!.Value });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.Details! });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.PrevHash });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.Hash });
            return await insert.ExecuteNonQueryAsync() == 1;
        }, new Progress($"billing: plain INSERT per transaction, {clients} clients", appends));
        if (outcome.Failures > 0)
        {
            throw new BenchFailedException($"billing: {outcome.Failures} plain inserts failed");
        }

        return outcome;
    }

    private static async Task CheckChainAsync(string database, long before, int appends)
    {
        var store = new PostgresLedgerStore(database);
        var prev = before == 0 ? LedgerCanonical.GenesisHash : (await store.ReadAsync(before, 1))[0].Hash;
        var seq = before;
        for (var from = before + 1; ; from += 5_000)
        {
            var page = await store.ReadAsync(from, 5_000);
            foreach (var entry in page)
            {
                if (entry.Seq != ++seq || entry.PrevHash != prev || LedgerCanonical.Hash(entry) != entry.Hash)
                {
                    throw new BenchFailedException($"billing: ledger entry {entry.Seq} does not chain (expected seq {seq})");
                }

                prev = entry.Hash;
            }

            if (page.Count < 5_000)
            {
                break;
            }
        }

        if (seq - before < appends)
        {
            throw new BenchFailedException($"billing: {appends} appends acknowledged, {seq - before} stored");
        }
    }
}
