using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Storage;

/// <summary>
/// Applies <see cref="PostgresSchema"/> at the very first silo lifecycle stage, before membership,
/// storage and reminders read their queries from <c>OrleansQuery</c>; the silo does not start when
/// the database stays unreachable beyond <see cref="GridPostgresOptions.SchemaRetryTimeout"/>, nor on a schema a later
/// release wrote (<see cref="SchemaTooNewException"/>). Scripts other
/// projects register in the container (<see cref="SchemaScript"/> singletons, e.g. the grid proxy's tables) are
/// applied in the same transaction.
/// </summary>
internal sealed partial class PostgresSchemaInitializer(
    GridPostgresConnection connection,
    IEnumerable<SchemaScript> moreScripts,
    IOptions<GridPostgresOptions> options,
    ILogger<PostgresSchemaInitializer> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(PostgresSchemaInitializer), ServiceLifecycleStage.First, ApplyAsync);

    private async Task ApplyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await (options.Value.ApplySchemaOnStart
                ? PostgresSchema.ApplyAsync(connection.ConnectionString, moreScripts, logger, options.Value.SchemaRetryTimeout, cancellationToken)
                : PostgresSchema.EnsureNotNewerAsync(connection.ConnectionString, moreScripts, cancellationToken));
        }
        catch (SchemaTooNewException e)
        {
            // Said in the operator's words before Orleans reports the failed start stage.
            LogSchemaTooNew(logger, e, e.Message);
            throw;
        }
    }

    [LoggerMessage(EventId = 3, Level = LogLevel.Critical, Message = "{Reason}")]
    private static partial void LogSchemaTooNew(ILogger logger, Exception exception, string reason);
}

/// <summary>The tuned connection string the silo's providers share.</summary>
internal sealed record GridPostgresConnection(string ConnectionString);
