using Grid.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Grid.Proxy;

/// <summary>
/// Keeps the grid-proxy tables (<c>Sql/06-proxy-read-model.sql</c>) at the ledger's head in durable mode. Every silo
/// runs one; a batch is read from <c>grid_ledger_entry</c> after the position row, folded into the tables and the
/// position moved, all in one transaction, so each entry is applied exactly once and a restarted silo resumes where
/// the last commit left off. The position row is locked for the batch (a second silo waits, then reads the moved
/// position), and a silo that finds another already projecting skips its tick instead of waiting.
/// </summary>
public sealed partial class PostgresProxyProjector(
    [FromKeyedServices(PostgresProxyReadStore.DataSourceKey)] NpgsqlDataSource source,
    IOptions<ProxyOptions> options,
    TimeProvider time,
    ILogger<PostgresProxyProjector> logger) : PeriodicService(time)
{
    public const int BatchSize = 2000;

    // Any fixed number shared by every silo; this spells "GridPrxy".
    private const long AdvisoryLockKey = 0x4772_6964_5072_7879;

    /// <summary>Applies everything the ledger holds beyond the position; answers how many entries this silo applied.</summary>
    public async Task<int> CatchUpAsync(CancellationToken cancellationToken)
    {
        var applied = 0;
        while (await ProjectBatchAsync(cancellationToken) is var count && count > 0)
        {
            applied += count;
            if (count < BatchSize)
            {
                break;
            }
        }

        return applied;
    }

    protected override TimeSpan Interval => options.Value.LedgerPollInterval;

    protected override bool StepsAtStart => true;

    protected override Task StepAsync(CancellationToken cancellationToken) => CatchUpAsync(cancellationToken);

    protected override void StepFailed(Exception exception) => LogProjectFailed(logger, exception);

    /// <summary>One transaction: lock, read the position, fold up to <see cref="BatchSize"/> entries, move the position.</summary>
    private async Task<int> ProjectBatchAsync(CancellationToken cancellationToken)
    {
        await using var connection = await source.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock($1)", connection, transaction))
        {
            tryLock.Parameters.Add(new NpgsqlParameter<long> { TypedValue = AdvisoryLockKey });
            if (await tryLock.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return 0;
            }
        }

        long position;
        await using (var read = new NpgsqlCommand("SELECT seq FROM grid_proxy_position WHERE id = 1 FOR UPDATE", connection, transaction))
        {
            position = (long)(await read.ExecuteScalarAsync(cancellationToken))!;
        }

        var entries = new List<LedgerEntry>();
        await using (var read = new NpgsqlCommand(
            // Only the kinds folded here carry their details over the wire; the rest only move the position.
            "SELECT seq, at, kind, amount, CASE WHEN kind = ANY($3) THEN details END FROM grid_ledger_entry WHERE seq > $1 ORDER BY seq LIMIT $2",
            connection, transaction))
        {
            read.Parameters.Add(new NpgsqlParameter<long> { TypedValue = position });
            read.Parameters.Add(new NpgsqlParameter<int> { TypedValue = BatchSize });
            read.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ProxyEvents.Kinds });
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                entries.Add(new LedgerEntry(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), "", "", "",
                    reader.IsDBNull(3) ? null : reader.GetInt64(3), [], reader.IsDBNull(4) ? null : reader.GetString(4), "", ""));
            }
        }

        if (entries.Count == 0)
        {
            return 0;
        }

        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var entry in entries)
        {
            if (entry.Details is not null && ProxyEvents.Decode(entry) is { } change)
            {
                foreach (var command in Commands(change))
                {
                    batch.BatchCommands.Add(command);
                }
            }
        }

        batch.BatchCommands.Add(Statement("UPDATE grid_proxy_position SET seq = $1 WHERE id = 1", Bigint(entries[^1].Seq)));
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return entries.Count;
    }

    private static IEnumerable<NpgsqlBatchCommand> Commands(ProxyEvent change)
    {
        yield return Command(change);
        switch (change)
        {
            case PlacedEvent { Ips: { } ips, FarmId: { } farmId } placed:
                yield return Hold(placed.ContractId, farmId, ips);
                break;
            case MovedEvent { Ips: { } ips, FarmId: { } farmId } moved:
                yield return Hold(moved.ContractId, farmId, ips);
                break;
            case StateEvent { State: ProxyEvents.Deleted } deleted:
                yield return Statement("UPDATE grid_proxy_public_ip SET contract_id = 0 WHERE contract_id = $1", Bigint(deleted.ContractId));
                break;
        }
    }

    /// <summary>
    /// The contract holds <paramref name="ips"/> of the farm and no other address. An address another contract took
    /// since (its placement folded before this contract's release) is not freed: only rows still naming this one are.
    /// </summary>
    private static NpgsqlBatchCommand Hold(long contractId, long farmId, string[] ips) => Statement(
        """
        WITH freed AS (
            UPDATE grid_proxy_public_ip SET contract_id = 0 WHERE contract_id = $1 AND NOT (farm_id = $2 AND ip = ANY($3)))
        UPDATE grid_proxy_public_ip SET contract_id = $1 WHERE farm_id = $2 AND ip = ANY($3)
        """,
        Bigint(contractId), Bigint(farmId), new NpgsqlParameter<string[]> { TypedValue = ips });

    private static NpgsqlBatchCommand Command(ProxyEvent change) => change switch
    {
        TwinCreatedEvent twin => Statement(
            "INSERT INTO grid_proxy_twin (twin_id, name) VALUES ($1, $2) ON CONFLICT (twin_id) DO UPDATE SET name = EXCLUDED.name",
            Bigint(twin.TwinId), Text(twin.Name)),
        FarmRegisteredEvent farm => Statement(
            """
            WITH farm AS (
                INSERT INTO grid_proxy_farm (farm_id, twin_id, name, certification, public_ips) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (farm_id) DO UPDATE SET twin_id = EXCLUDED.twin_id, name = EXCLUDED.name,
                    certification = EXCLUDED.certification, public_ips = EXCLUDED.public_ips)
            INSERT INTO grid_proxy_public_ip (farm_id, ip, gateway, position)
            SELECT $1, a.ip, a.gateway, a.ordinal - 1 FROM unnest($5::text[], $6::text[]) WITH ORDINALITY AS a(ip, gateway, ordinal)
            ON CONFLICT (farm_id, ip) DO NOTHING
            """,
            Bigint(farm.FarmId), Bigint(farm.TwinId), Text(farm.Name), Text(farm.Certification),
            new NpgsqlParameter<string[]> { TypedValue = farm.PublicIps }, new NpgsqlParameter<string[]> { TypedValue = farm.Gateways }),
        // A re-placement at a higher epoch (after a lost node) keeps the contract, only its node changes.
        PlacedEvent placed => Statement(
            """
            INSERT INTO grid_proxy_contract (contract_id, twin_id, state, created_at, node_id, farm_id, public_ips, type)
            VALUES ($1, $2, 'Created', $3, $4, coalesce($5, 0), $6, $7)
            ON CONFLICT (contract_id) DO UPDATE SET node_id = EXCLUDED.node_id, farm_id = coalesce($5, grid_proxy_contract.farm_id)
            """,
            Bigint(placed.ContractId), Bigint(placed.TwinId), Bigint(placed.At), Bigint(placed.NodeId), Bigint(placed.FarmId),
            new NpgsqlParameter<int> { TypedValue = placed.PublicIps }, Text(placed.Type)),
        MovedEvent moved => Statement(
            "UPDATE grid_proxy_contract SET node_id = $2, farm_id = coalesce($3, farm_id) WHERE contract_id = $1",
            Bigint(moved.ContractId), Bigint(moved.NodeId), Bigint(moved.FarmId)),
        // As ProxyEvents.Next: nothing brings a deleted contract back.
        StateEvent state => Statement(
            $"UPDATE grid_proxy_contract SET state = CASE WHEN state = '{ProxyEvents.Deleted}' THEN state ELSE $2 END WHERE contract_id = $1",
            Bigint(state.ContractId), Text(state.State)),
        BilledEvent bill => Statement(
            """
            WITH bill AS (
                INSERT INTO grid_proxy_bill (contract_id, sequence, twin_id, amount, billed_at)
                VALUES ($1, $2, coalesce($3, (SELECT twin_id FROM grid_proxy_contract WHERE contract_id = $1), 0), $4, $5)
                ON CONFLICT (contract_id, sequence) DO NOTHING
                RETURNING twin_id, amount),
            latest AS (
                UPDATE grid_proxy_contract SET
                    bill_count = bill_count + 1,
                    prev_bill_at = CASE WHEN last_bill_at IS NULL OR $5 >= last_bill_at THEN last_bill_at ELSE greatest(prev_bill_at, $5) END,
                    last_bill_amount = CASE WHEN last_bill_at IS NULL OR $5 >= last_bill_at THEN $4 ELSE last_bill_amount END,
                    last_bill_at = greatest(last_bill_at, $5)
                WHERE contract_id = $1 AND EXISTS (SELECT 1 FROM bill))
            INSERT INTO grid_proxy_consumption (twin_id, overall) SELECT twin_id, amount FROM bill
            ON CONFLICT (twin_id) DO UPDATE SET overall = grid_proxy_consumption.overall + EXCLUDED.overall
            """,
            Bigint(bill.ContractId), Bigint(bill.Sequence), Bigint(bill.TwinId), Bigint(bill.Amount), Bigint(bill.Timestamp)),
        _ => throw new ArgumentOutOfRangeException(nameof(change), change, "not a read-model event"),
    };

    private static NpgsqlBatchCommand Statement(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters);
        return command;
    }

    private static NpgsqlParameter Bigint(long? value) =>
        new() { NpgsqlDbType = NpgsqlDbType.Bigint, Value = value is { } v ? v : DBNull.Value };

    private static NpgsqlParameter Text(string value) => new() { NpgsqlDbType = NpgsqlDbType.Text, Value = value };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grid-proxy projector could not fold the ledger into its tables; retrying")]
    private static partial void LogProjectFailed(ILogger logger, Exception exception);
}
