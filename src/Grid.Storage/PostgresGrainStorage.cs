using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Storage;

namespace Grid.Storage;

/// <summary>
/// Grain state on PostgreSQL with group commit: concurrent writes of many grains go to the database as one
/// transaction (one round trip and one commit flush for all of them), concurrent reads as one round trip.
/// Rows, columns and versions are those of the Orleans ADO.NET provider it replaces (<c>orleans_grain_state</c>,
/// see <see cref="PostgresGrainKey"/>), and so are its ETag rules: every write in a group is its own conditional
/// statement with its own result, so a write with a stale ETag fails alone with
/// <see cref="InconsistentStateException"/> while the rest of its group commits. A write is acknowledged only
/// after the commit of its group returned.
/// </summary>
/// <remarks>
/// Measured on 2 cores (docs/benchmarks.md): durable placement issues three writes and one read per reservation;
/// with one transaction per write the database spent its time on per-statement and per-commit overhead.
/// </remarks>
public sealed partial class PostgresGrainStorage : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>, IAsyncDisposable
{
    // Enough loops that a group is being filled while another commits; more only adds connections.
    private const int Loops = 3;
    private const int MaxGroup = 256;

    private readonly NpgsqlDataSource _source;
    private readonly string _serviceId;
    private readonly IGrainStorageSerializer _serializer;
    private readonly ILogger _logger;
    private readonly GroupCommitQueue<StateOperation> _reads;
    private readonly GroupCommitQueue<StateOperation> _writes;
    private readonly StorageHealth _health;

    public PostgresGrainStorage(string connectionString, string serviceId, IGrainStorageSerializer serializer, ILogger<PostgresGrainStorage> logger, StorageHealth? health = null)
    {
        _health = health ?? new StorageHealth(TimeProvider.System, _ => Task.CompletedTask);
        _source = NpgsqlDataSource.Create(connectionString);
        _serviceId = serviceId;
        _serializer = serializer;
        _logger = logger;
        _reads = new(Loops, MaxGroup, ReadGroupAsync);
        _writes = new(Loops, MaxGroup, WriteGroupAsync);
    }

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var read = new StateOperation(StateOperationKind.Read, PostgresGrainKey.Of(stateName, grainId), null, null);
        _reads.Add(read);
        var result = await read.Done.Task;
        grainState.State = result.Payload is { } payload ? _serializer.Deserialize<T>(new BinaryData(payload)) : Activator.CreateInstance<T>();
        grainState.ETag = result.Version?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        grainState.RecordExists = result.Applied;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var payload = _serializer.Serialize(grainState.State).ToArray();
        var write = new StateOperation(StateOperationKind.Write, PostgresGrainKey.Of(stateName, grainId), Version(grainState.ETag), payload);
        var result = await SubmitWriteAsync(write, grainState.ETag);
        grainState.ETag = result.Version!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var clear = new StateOperation(StateOperationKind.Clear, PostgresGrainKey.Of(stateName, grainId), Version(grainState.ETag), null);
        var result = await SubmitWriteAsync(clear, grainState.ETag);
        grainState.ETag = result.Version?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(PostgresGrainStorage), ServiceLifecycleStage.ApplicationServices, _ => Task.CompletedTask, async _ => await DisposeAsync());

    /// <summary>Lets queued operations finish, then closes the connections.</summary>
    public async ValueTask DisposeAsync()
    {
        await _reads.DisposeAsync();
        await _writes.DisposeAsync();
        await _source.DisposeAsync();
    }

    private async Task<StateResult> SubmitWriteAsync(StateOperation operation, string? etag)
    {
        _writes.Add(operation);
        var result = await operation.Done.Task;
        return result.Applied
            ? result
            : throw new InconsistentStateException(
                $"Version conflict ({operation.Kind}): ServiceId={_serviceId} State={operation.Key} ETag={etag ?? "none"}.", "unknown", etag ?? "none");
    }

    private static int? Version(string? etag) =>
        string.IsNullOrWhiteSpace(etag) ? null : int.Parse(etag, System.Globalization.CultureInfo.InvariantCulture);

    private async Task ReadGroupAsync(List<StateOperation> group)
    {
        try
        {
            await using var connection = await _source.OpenConnectionAsync();
            await using var batch = new NpgsqlBatch(connection);
            foreach (var read in group)
            {
                batch.BatchCommands.Add(PostgresGrainStatements.Read(read.Key, _serviceId));
            }

            await using var reader = await batch.ExecuteReaderAsync();
            foreach (var read in group)
            {
                var found = await reader.ReadAsync();
                read.Result = found
                    ? new StateResult(true, reader.GetInt32(1), reader.IsDBNull(0) ? null : (byte[])reader.GetValue(0))
                    : new StateResult(false, null, null);
                await reader.NextResultAsync();
            }
        }
        catch (Exception ex)
        {
            _health.Observe(ex);
            group.ForEach(read => read.Fail(ex));
            return;
        }

        _health.Succeeded();
        group.ForEach(read => read.Complete());
    }

    private async Task WriteGroupAsync(List<StateOperation> group)
    {
        // One lock order for every group (two groups never wait on each other's rows in a cycle); the writes of
        // one grain keep their order, since the sort is stable.
        var ordered = group.OrderBy(w => w.Key.IdHash).ThenBy(w => w.Key.N1).ToList();
        try
        {
            await CommitAsync(ordered);
        }
        catch (PostgresException ex) when (ordered.Count > 1)
        {
            // A statement failed and took its group's transaction with it: commit each write alone, so only the
            // write at fault fails.
            LogGroupRetried(_logger, ordered.Count, ex.SqlState);
            foreach (var write in ordered)
            {
                await WriteGroupAsync([write]);
            }

            return;
        }
        catch (Exception ex)
        {
            _health.Observe(ex);
            ordered.ForEach(write => write.Fail(ex));
            return;
        }

        _health.Succeeded();
        ordered.ForEach(write => write.Complete());
    }

    private async Task CommitAsync(List<StateOperation> group)
    {
        await using var connection = await _source.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var batch = new NpgsqlBatch(connection, transaction))
        {
            foreach (var write in group)
            {
                batch.BatchCommands.Add(PostgresGrainStatements.Write(write, _serviceId));
            }

            await using var reader = await batch.ExecuteReaderAsync();
            foreach (var write in group)
            {
                // A row back means the statement applied; none means the ETag did not match.
                write.Result = await reader.ReadAsync()
                    ? new StateResult(true, reader.IsDBNull(0) ? null : reader.GetInt32(0), null)
                    : new StateResult(false, null, null);
                await reader.NextResultAsync();
            }
        }

        // Results are handed out only by the caller, after this commit returned.
        await transaction.CommitAsync();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "A group of {Count} grain-state writes failed ({SqlState}); committing them one by one")]
    private static partial void LogGroupRetried(ILogger logger, int count, string sqlState);
}
