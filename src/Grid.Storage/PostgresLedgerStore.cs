using System.Collections.Immutable;
using Npgsql;
using NpgsqlTypes;

namespace Grid.Storage;

/// <summary>
/// The ledger on PostgreSQL (<c>Sql/05-ledger.sql</c>): a group commit is one transaction of two multi-row
/// INSERTs (entries and postings, via <c>unnest</c> of array parameters, so the statement text never changes and
/// stays prepared). A sequence number or event id already stored makes the transaction fail as a
/// <see cref="LedgerConflictException"/>.
/// </summary>
public sealed class PostgresLedgerStore(NpgsqlDataSource source) : ILedgerStore
{
    private const string EntryColumns = "seq, at, kind, event_id, actor, subject, amount, details, prev_hash, hash";

    public PostgresLedgerStore(string connectionString)
        : this(NpgsqlDataSource.Create(connectionString))
    {
    }

    public async Task<LedgerHead> ReadHeadAsync(CancellationToken cancellationToken = default)
    {
        await using var command = source.CreateCommand("SELECT seq, hash FROM grid_ledger_entry ORDER BY seq DESC LIMIT 1");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new LedgerHead(reader.GetInt64(0), reader.GetString(1)) : LedgerHead.Empty;
    }

    public Task<IReadOnlyList<LedgerEntry>> ReadAsync(long fromSeq, int limit, CancellationToken cancellationToken = default) =>
        QueryEntriesAsync($"SELECT {EntryColumns} FROM grid_ledger_entry WHERE seq >= $1 ORDER BY seq LIMIT $2",
            [new NpgsqlParameter<long> { TypedValue = fromSeq }, new NpgsqlParameter<int> { TypedValue = limit }], cancellationToken);

    public async Task<IReadOnlyList<LedgerCheckpoint>> ReadCheckpointsAsync(long fromSeq, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = source.CreateCommand(
            "SELECT seq, hash, at, signature, public_key FROM grid_ledger_checkpoint WHERE seq >= $1 ORDER BY seq LIMIT $2");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = fromSeq });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var checkpoints = new List<LedgerCheckpoint>();
        while (await reader.ReadAsync(cancellationToken))
        {
            checkpoints.Add(new LedgerCheckpoint(reader.GetInt64(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2),
                reader.GetString(3), reader.GetString(4)));
        }

        return checkpoints;
    }

    public async Task<IReadOnlyList<AccountTransaction>> ReadAccountAsync(long accountId, int skip, int limit, CancellationToken cancellationToken = default)
    {
        var entries = await QueryEntriesAsync(
            $"""
            SELECT {EntryColumns} FROM grid_ledger_entry WHERE seq IN (
                SELECT DISTINCT seq FROM grid_ledger_posting WHERE account_id = $1 ORDER BY seq DESC OFFSET $2 LIMIT $3)
            ORDER BY seq DESC
            """,
            [new NpgsqlParameter<long> { TypedValue = accountId }, new NpgsqlParameter<int> { TypedValue = skip }, new NpgsqlParameter<int> { TypedValue = limit }],
            cancellationToken);
        return [.. entries.Select(e => new AccountTransaction(e, e.Postings.Where(p => p.AccountId == accountId).Sum(p => p.Amount)))];
    }

    public Task<AccountTotals> FoldAccountAsync(long accountId, CancellationToken cancellationToken = default) =>
        FoldAccountAfterAsync(accountId, AccountTotals.Empty, cancellationToken);

    public async Task<AccountTotals> FoldAccountAfterAsync(long accountId, AccountTotals folded, CancellationToken cancellationToken = default)
    {
        // The same fold as AccountFold, in SQL over the account's index range after what is folded already.
        await using var command = source.CreateCommand(
            """
            SELECT coalesce(sum(amount), 0)::bigint,
                   coalesce(sum(-amount) FILTER (WHERE kind = 'bill' AND amount < 0), 0)::bigint,
                   coalesce(sum(amount) FILTER (WHERE kind = 'bill' AND amount > 0), 0)::bigint,
                   coalesce(max(seq), 0)
            FROM grid_ledger_posting WHERE account_id = $1 AND seq > $2
            """);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = accountId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = folded.LastSeq });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new AccountTotals(checked(folded.Balance + reader.GetInt64(0)), checked(folded.Spent + reader.GetInt64(1)),
            checked(folded.Earned + reader.GetInt64(2)), Math.Max(folded.LastSeq, reader.GetInt64(3)));
    }

    public Task<IReadOnlyList<LedgerEntry>> FindAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken = default) =>
        eventIds.Count == 0
            ? Task.FromResult<IReadOnlyList<LedgerEntry>>([])
            : QueryEntriesAsync($"SELECT {EntryColumns} FROM grid_ledger_entry WHERE event_id = ANY($1) ORDER BY seq",
                [new NpgsqlParameter<string[]> { TypedValue = [.. eventIds] }], cancellationToken);

    public Task AppendAsync(IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default) =>
        AppendAfterAsync(entries, Task.CompletedTask, cancellationToken);

    /// <summary>
    /// Inserts in a transaction of its own, then waits for <paramref name="previous"/> before committing: the
    /// inserts of one batch overlap the previous batch's commit (its wait for the disk). If the previous write
    /// failed, the transaction is rolled back (nothing of it is visible: a chain never has a gap).
    /// </summary>
    public async Task AppendAfterAsync(IReadOnlyList<LedgerEntry> entries, Task previous, CancellationToken cancellationToken = default)
    {
        if (entries.Count == 0)
        {
            await previous;
            return;
        }

        var postings = entries.SelectMany(e => e.Postings.Select((p, i) => (e.Seq, Index: i, p.AccountId, p.Amount, e.Kind))).ToArray();
        await using var connection = await source.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            await using (var insert = new NpgsqlCommand(
                $"""
                INSERT INTO grid_ledger_entry ({EntryColumns})
                SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[])
                """, connection, transaction))
            {
                insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. entries.Select(e => e.Seq)] });
                insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = [.. entries.Select(e => e.At.ToUniversalTime())], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
                insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. entries.Select(e => e.Kind)] });
                insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. entries.Select(e => e.EventId)] });
                insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. entries.Select(e => e.Actor)] });
                insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. entries.Select(e => e.Subject)] });
                insert.Parameters.Add(new NpgsqlParameter<long?[]> { TypedValue = [.. entries.Select(e => e.Amount)] });
                insert.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = [.. entries.Select(e => e.Details)] });
                insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. entries.Select(e => e.PrevHash)] });
                insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. entries.Select(e => e.Hash)] });
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }

            if (postings.Length > 0)
            {
                await using var insert = new NpgsqlCommand(
                    """
                    INSERT INTO grid_ledger_posting (seq, idx, account_id, amount, kind)
                    SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::bigint[], $5::text[])
                    """, connection, transaction);
                insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. postings.Select(p => p.Seq)] });
                insert.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. postings.Select(p => p.Index)] });
                insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. postings.Select(p => p.AccountId)] });
                insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. postings.Select(p => p.Amount)] });
                insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. postings.Select(p => p.Kind)] });
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }

            await previous;
            await transaction.CommitAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new LedgerConflictException($"The ledger already holds part of this batch ({e.ConstraintName}).", e);
        }
    }

    public async Task AppendCheckpointAsync(LedgerCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        await using var command = source.CreateCommand(
            "INSERT INTO grid_ledger_checkpoint (seq, hash, at, signature, public_key) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = checkpoint.Seq });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = checkpoint.Hash });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = checkpoint.At.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = checkpoint.Signature });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = checkpoint.PublicKey });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Entries selected by <paramref name="sql"/> (its columns: <see cref="EntryColumns"/>) with their postings.</summary>
    private async Task<IReadOnlyList<LedgerEntry>> QueryEntriesAsync(string sql, NpgsqlParameter[] parameters, CancellationToken cancellationToken)
    {
        await using var connection = await source.OpenConnectionAsync(cancellationToken);
        var rows = new List<LedgerEntry>();
        await using (var command = new NpgsqlCommand(sql, connection))
        {
            command.Parameters.AddRange(parameters);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(new LedgerEntry(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3),
                    reader.GetString(4), reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetInt64(6), [],
                    reader.IsDBNull(7) ? null : reader.GetString(7), reader.GetString(8), reader.GetString(9)));
            }
        }

        if (rows.Count == 0)
        {
            return rows;
        }

        var postings = new Dictionary<long, ImmutableArray<Posting>.Builder>();
        await using (var command = new NpgsqlCommand("SELECT seq, account_id, amount FROM grid_ledger_posting WHERE seq = ANY($1) ORDER BY seq, idx", connection))
        {
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. rows.Select(r => r.Seq)] });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var seq = reader.GetInt64(0);
                if (!postings.TryGetValue(seq, out var list))
                {
                    postings[seq] = list = ImmutableArray.CreateBuilder<Posting>();
                }

                list.Add(new Posting(reader.GetInt64(1), reader.GetInt64(2)));
            }
        }

        return [.. rows.Select(r => postings.TryGetValue(r.Seq, out var list) ? r with { Postings = list.ToImmutable() } : r)];
    }
}
