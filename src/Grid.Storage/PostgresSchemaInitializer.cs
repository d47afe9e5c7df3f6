using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grid.Storage;

/// <summary>
/// Applies <see cref="PostgresSchema"/> at the very first silo lifecycle stage, before membership,
/// storage and reminders read their queries from <c>OrleansQuery</c>; the silo does not start when
/// the database stays unreachable beyond <see cref="GridPostgresOptions.SchemaRetryTimeout"/>. Scripts other
/// projects register in the container (<see cref="SchemaScript"/> singletons, e.g. the grid proxy's tables) are
/// applied in the same transaction.
/// </summary>
internal sealed class PostgresSchemaInitializer(
    GridPostgresConnection connection,
    IEnumerable<SchemaScript> moreScripts,
    IOptions<GridPostgresOptions> options,
    ILogger<PostgresSchemaInitializer> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(PostgresSchemaInitializer), ServiceLifecycleStage.First, ApplyAsync);

    private Task ApplyAsync(CancellationToken cancellationToken) =>
        options.Value.ApplySchemaOnStart
            ? PostgresSchema.ApplyAsync(connection.ConnectionString, moreScripts, logger, options.Value.SchemaRetryTimeout, cancellationToken)
            : Task.CompletedTask;
}

/// <summary>The tuned connection string the silo's providers share.</summary>
internal sealed record GridPostgresConnection(string ConnectionString);
