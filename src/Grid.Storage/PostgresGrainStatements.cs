using Npgsql;
using NpgsqlTypes;

namespace Grid.Storage;

/// <summary>What a grain-state operation does, and its outcome.</summary>
internal enum StateOperationKind
{
    Read,
    Write,
    Clear,
}

/// <summary><paramref name="Applied"/>: the row was found (read) or the statement matched its ETag (write, clear).</summary>
internal sealed record StateResult(bool Applied, int? Version, byte[]? Payload);

/// <summary>One read, write or clear waiting in a group; completed after its group's round trip (and commit).</summary>
internal sealed class StateOperation(StateOperationKind kind, PostgresGrainKey key, int? version, byte[]? payload) : IGroupItem
{
    public StateOperationKind Kind { get; } = kind;

    public PostgresGrainKey Key { get; } = key;

    /// <summary>The version the grain last saw (its ETag); null when it never saw a stored row.</summary>
    public int? ExpectedVersion { get; } = version;

    public byte[]? Payload { get; } = payload;

    public StateResult? Result { get; set; }

    public TaskCompletionSource<StateResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Complete() => Done.TrySetResult(Result!);

    public void Fail(Exception exception) => Done.TrySetException(exception);
}

/// <summary>
/// The statements of <see cref="PostgresGrainStorage"/>, one per operation and each with its own result: a row
/// back when it applied. Positional parameters, so Npgsql prepares each text once per connection.
/// </summary>
internal static class PostgresGrainStatements
{
    private const string Match = """
        grain_id_hash = $1 AND grain_type_hash = $2 AND grain_id_n0 = $3 AND grain_id_n1 = $4
        AND service_id = $5 AND grain_type = $6 AND grain_id_extension IS NOT DISTINCT FROM $7
        """;

    private const string ReadText = $"SELECT payload, version FROM orleans_grain_state WHERE {Match}";

    // Without an ETag only a first insert applies (another writer's row makes it a conflict).
    private const string InsertText = """
        INSERT INTO orleans_grain_state
            (grain_id_hash, grain_type_hash, grain_id_n0, grain_id_n1, service_id, grain_type, grain_id_extension, payload, version)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)
        ON CONFLICT DO NOTHING
        RETURNING version
        """;

    private const string UpdateText = $"""
        UPDATE orleans_grain_state SET payload = $8, version = version + 1, modified_on = now()
        WHERE {Match} AND version = $9
        RETURNING version
        """;

    // Clearing keeps the row with an empty payload and a new version, as the Orleans provider does.
    private const string ClearText = $"""
        UPDATE orleans_grain_state SET payload = NULL, version = version + 1, modified_on = now()
        WHERE {Match} AND version = $8
        RETURNING version
        """;

    // Clearing a state the grain never saw stored applies when there is still nothing stored.
    private const string ClearAbsentText = $"""
        SELECT NULL::integer WHERE NOT EXISTS (SELECT 1 FROM orleans_grain_state WHERE {Match})
        """;

    public static NpgsqlBatchCommand Read(PostgresGrainKey key, string serviceId) => WithKey(new(ReadText), key, serviceId);

    public static NpgsqlBatchCommand Write(StateOperation operation, string serviceId)
    {
        var (key, version) = (operation.Key, operation.ExpectedVersion);
        return operation.Kind switch
        {
            StateOperationKind.Write when version is null => WithKey(new(InsertText), key, serviceId, operation.Payload),
            StateOperationKind.Write => WithKey(new(UpdateText), key, serviceId, operation.Payload, version),
            StateOperationKind.Clear when version is null => WithKey(new(ClearAbsentText), key, serviceId),
            StateOperationKind.Clear => WithKey(new(ClearText), key, serviceId, null, version),
            _ => throw new ArgumentOutOfRangeException(nameof(operation), operation.Kind, "Not a write."),
        };
    }

    private static NpgsqlBatchCommand WithKey(NpgsqlBatchCommand command, PostgresGrainKey key, string serviceId, byte[]? payload = null, int? version = null)
    {
        var parameters = command.Parameters;
        parameters.Add(new NpgsqlParameter<int> { TypedValue = key.IdHash });
        parameters.Add(new NpgsqlParameter<int> { TypedValue = key.TypeHash });
        parameters.Add(new NpgsqlParameter<long> { TypedValue = key.N0 });
        parameters.Add(new NpgsqlParameter<long> { TypedValue = key.N1 });
        parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Varchar, Value = serviceId });
        parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Varchar, Value = key.Type });
        parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Varchar, Value = (object?)key.Extension ?? DBNull.Value });
        if (payload is not null)
        {
            parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = payload });
        }

        if (version is { } expected)
        {
            parameters.Add(new NpgsqlParameter<int> { TypedValue = expected });
        }

        return command;
    }
}
