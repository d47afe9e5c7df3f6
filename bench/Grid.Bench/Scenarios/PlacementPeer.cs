using Npgsql;

namespace Grid.Bench.Scenarios;

/// <summary>
/// The yardstick for durable placement: what a user could build with SQL alone on the same PostgreSQL. 10,000
/// node rows; each placement is one transaction that picks the first node with room from a random start
/// (<c>FOR UPDATE SKIP LOCKED</c>, wrapping around once), decrements its free capacity and inserts the
/// reservation row — the pgbench script of the issue, run from an Npgsql loop (pgbench is not on every machine)
/// with prepared statements. Checked afterwards: no failures, every placement stored, no node below zero.
/// </summary>
public static class PlacementPeer
{
    public const int Nodes = 10_000;
    private const int NodeCru = 64;
    private const long NodeMru = 256L << 30;

    private const string Schema = """
        DROP TABLE IF EXISTS peer_reservations, peer_nodes;
        CREATE TABLE peer_nodes (id integer PRIMARY KEY, free_cru integer NOT NULL, free_mru bigint NOT NULL);
        CREATE TABLE peer_reservations (id bigserial PRIMARY KEY, node_id integer NOT NULL, twin_id bigint NOT NULL,
            cru integer NOT NULL, mru bigint NOT NULL);
        """;

    private const string Pick = """
        SELECT id FROM peer_nodes WHERE id >= $1 AND free_cru >= $2 AND free_mru >= $3
        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
        """;

    /// <summary>Runs <paramref name="placements"/> placements from <paramref name="clients"/> connections; returns the rate.</summary>
    public static async Task<Measure.Outcome> RunAsync(string connectionString, int placements, int clients)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxPoolSize = Math.Max(clients, 100),
            MaxAutoPrepare = 16,
            NoResetOnClose = true,
        };
        await using var source = NpgsqlDataSource.Create(builder.ConnectionString);
        await using (var setup = source.CreateCommand(Schema))
        {
            await setup.ExecuteNonQueryAsync();
        }

        await using (var seed = source.CreateCommand(
            $"INSERT INTO peer_nodes SELECT g, {NodeCru}, {NodeMru} FROM generate_series(1, {Nodes}) g; ANALYZE peer_nodes"))
        {
            await seed.ExecuteNonQueryAsync();
        }

        // One open connection per client for the whole run, as pgbench holds its connections; a worker takes
        // one for a placement and gives it back (there are as many as workers, so none waits).
        var connections = new NpgsqlConnection[clients];
        for (var i = 0; i < clients; i++)
        {
            connections[i] = await source.OpenConnectionAsync();
        }

        var idle = new System.Collections.Concurrent.ConcurrentBag<NpgsqlConnection>(connections);

        try
        {
            var outcome = await Measure.RunAsync(placements, clients, async i =>
            {
                if (!idle.TryTake(out var connection))
                {
                    throw new InvalidOperationException("more workers than connections");
                }

                try
                {
                    return await PlaceAsync(connection, twinId: 1 + i % 100, cru: 1, mru: 1L << 30);
                }
                finally
                {
                    idle.Add(connection);
                }
            }, new Progress($"placement: SQL peer, {clients} clients", placements));

            await using var check = source.CreateCommand(
                "SELECT (SELECT count(*) FROM peer_reservations), (SELECT count(*) FROM peer_nodes WHERE free_cru < 0 OR free_mru < 0)");
            await using var reader = await check.ExecuteReaderAsync();
            await reader.ReadAsync();
            var stored = reader.GetInt64(0);
            var overbooked = reader.GetInt64(1);
            if (outcome.Failures > 0 || stored != placements || overbooked > 0)
            {
                throw new BenchFailedException(
                    $"SQL peer: {outcome.Failures} failed placements, {stored} stored of {placements}, {overbooked} overbooked nodes");
            }

            return outcome;
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private static async Task<bool> PlaceAsync(NpgsqlConnection connection, long twinId, int cru, long mru)
    {
        await using var transaction = await connection.BeginTransactionAsync();
        var node = await PickAsync(connection, transaction, Random.Shared.Next(1, Nodes + 1), cru, mru)
                   ?? await PickAsync(connection, transaction, 1, cru, mru);
        if (node is null)
        {
            return false;
        }

        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("UPDATE peer_nodes SET free_cru = free_cru - $1, free_mru = free_mru - $2 WHERE id = $3")
                {
                    Parameters = { new() { Value = cru }, new() { Value = mru }, new() { Value = node.Value } },
                },
                new NpgsqlBatchCommand("INSERT INTO peer_reservations (node_id, twin_id, cru, mru) VALUES ($1, $2, $3, $4)")
                {
                    Parameters = { new() { Value = node.Value }, new() { Value = twinId }, new() { Value = cru }, new() { Value = mru } },
                },
            },
        };
        await batch.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
        return true;
    }

    private static async Task<int?> PickAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int start, int cru, long mru)
    {
        await using var pick = new NpgsqlCommand(Pick, connection, transaction)
        {
            Parameters = { new() { Value = start }, new() { Value = cru }, new() { Value = mru } },
        };
        return await pick.ExecuteScalarAsync() is int id ? id : null;
    }
}
