using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Grid.Storage;

/// <summary>
/// The Grid's own PostgreSQL schema for the Orleans ADO.NET providers (membership, grain state,
/// reminders) and the ledger, shipped as embedded SQL scripts and applied idempotently. Other projects ship
/// their tables beside their code (the grid proxy's read model) and pass them in to be applied with these.
/// </summary>
public static partial class PostgresSchema
{
    /// <summary>How long <see cref="ApplyAsync(string, CancellationToken)"/> retries an unreachable database. Default: 60 seconds.</summary>
    public static readonly TimeSpan DefaultRetryTimeout = TimeSpan.FromSeconds(60);

    // Any fixed number works as long as every silo uses the same one; this spells "GridSchm".
    private const long AdvisoryLockKey = 0x4772_6964_5363_686D;
    private const string ResourcePrefix = "Grid.Storage.Sql.";
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);
    private static readonly Lazy<IReadOnlyList<SchemaScript>> LoadedScripts =
        new(() => Embedded(typeof(PostgresSchema).Assembly, ResourcePrefix));

    /// <summary>This project's embedded scripts in the order they are applied.</summary>
    public static IReadOnlyList<SchemaScript> Scripts => LoadedScripts.Value;

    /// <summary>
    /// The <c>.sql</c> resources of <paramref name="assembly"/> whose names start with <paramref name="resourcePrefix"/>,
    /// in name order, each named by what follows the prefix (e.g. <c>06-proxy-read-model.sql</c>).
    /// </summary>
    public static IReadOnlyList<SchemaScript> Embedded(Assembly assembly, string resourcePrefix)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        return assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith(resourcePrefix, StringComparison.Ordinal) && name.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(name => Load(assembly, name, resourcePrefix))
            .ToArray();
    }

    /// <summary>
    /// Applies the schema to the database, retrying for <see cref="DefaultRetryTimeout"/> while it is
    /// not reachable yet. Safe to call again and from several silos at once.
    /// </summary>
    public static Task ApplyAsync(string connectionString, CancellationToken cancellationToken = default) =>
        ApplyAsync(connectionString, NullLogger.Instance, DefaultRetryTimeout, cancellationToken);

    /// <summary>
    /// Applies the schema and <paramref name="moreScripts"/> (another project's tables) in one transaction, every
    /// script in name order, retrying for <see cref="DefaultRetryTimeout"/> while the database is not reachable yet.
    /// </summary>
    public static Task ApplyAsync(string connectionString, IEnumerable<SchemaScript> moreScripts, CancellationToken cancellationToken = default) =>
        ApplyAsync(connectionString, moreScripts, NullLogger.Instance, DefaultRetryTimeout, cancellationToken);

    /// <summary>Applies the schema, retrying for <paramref name="retryFor"/> while the database is not reachable yet.</summary>
    public static Task ApplyAsync(string connectionString, ILogger logger, TimeSpan retryFor, CancellationToken cancellationToken = default) =>
        ApplyAsync(connectionString, [], logger, retryFor, cancellationToken);

    /// <summary>
    /// Applies the schema to the database. All scripts run in one transaction behind a PostgreSQL
    /// advisory lock, so silos starting together apply it one after another and a failure leaves
    /// nothing half-made; tables are created only when missing and the stored query texts are
    /// replaced by the ones shipped with this build. A database whose schema is newer than these scripts (written by
    /// a later release) is refused with <see cref="SchemaTooNewException"/> before any script runs. Transient connection failures are retried
    /// with a growing delay until <paramref name="retryFor"/> has passed. <paramref name="moreScripts"/> (another
    /// project's tables) run in the same transaction, every script in name order.
    /// </summary>
    public static async Task ApplyAsync(
        string connectionString, IEnumerable<SchemaScript> moreScripts, ILogger logger, TimeSpan retryFor, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentNullException.ThrowIfNull(moreScripts);
        ArgumentNullException.ThrowIfNull(logger);

        var scripts = Scripts.Concat(moreScripts).DistinctBy(script => script.Name).OrderBy(script => script.Name, StringComparer.Ordinal).ToArray();
        var newestKnown = PostgresSchemaVersion.NewestKnown(scripts);

        var deadline = DateTime.UtcNow + retryFor;
        var delay = TimeSpan.FromMilliseconds(200);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ApplyOnceAsync(connectionString, scripts, newestKnown, cancellationToken);
                LogApplied(logger, scripts.Length, attempt);
                return;
            }
            catch (Exception ex) when (IsTransient(ex) && !cancellationToken.IsCancellationRequested && DateTime.UtcNow + delay < deadline)
            {
                LogRetrying(logger, ex, attempt, delay, ex.Message);
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }
    }

    /// <summary>
    /// Changes nothing; throws <see cref="SchemaTooNewException"/> when the database's schema is newer than this
    /// build's scripts and <paramref name="moreScripts"/> know (for silos that leave applying it to a migration job).
    /// </summary>
    public static async Task EnsureNotNewerAsync(string connectionString, IEnumerable<SchemaScript> moreScripts, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentNullException.ThrowIfNull(moreScripts);
        var newestKnown = PostgresSchemaVersion.NewestKnown(Scripts.Concat(moreScripts).DistinctBy(script => script.Name).ToArray());
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await PostgresSchemaVersion.EnsureNotNewerAsync(connection, transaction: null, newestKnown, cancellationToken);
    }

    private static async Task ApplyOnceAsync(string connectionString, IReadOnlyList<SchemaScript> scripts, int newestKnown, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Held until commit: concurrent CREATE ... IF NOT EXISTS can otherwise still collide.
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
        {
            lockCommand.Parameters.AddWithValue("key", AdvisoryLockKey);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }

        // Before any script: a silo older than the schema must leave the database as it found it.
        await PostgresSchemaVersion.EnsureNotNewerAsync(connection, transaction, newestKnown, cancellationToken);

        foreach (var script in scripts)
        {
            await using (var command = new NpgsqlCommand(script.Sql, connection, transaction))
            {
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            await using var record = new NpgsqlCommand(
                """
                INSERT INTO grid_schema_script (script, sha256) VALUES (@script, @sha256)
                ON CONFLICT (script) DO UPDATE SET sha256 = EXCLUDED.sha256, applied_at = now()
                WHERE grid_schema_script.sha256 <> EXCLUDED.sha256
                """,
                connection,
                transaction);
            record.Parameters.AddWithValue("script", script.Name);
            record.Parameters.AddWithValue("sha256", script.Sha256);
            await record.ExecuteNonQueryAsync(cancellationToken);
        }

        await PostgresSchemaVersion.RecordAsync(connection, transaction, scripts, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private static bool IsTransient(Exception exception) => exception switch
    {
        NpgsqlException npgsql => npgsql.IsTransient,
        TimeoutException => true,
        _ => false,
    };

    private static SchemaScript Load(Assembly assembly, string resourceName, string resourcePrefix)
    {
        using var stream = assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"Embedded schema script {resourceName} is missing.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var sql = reader.ReadToEnd();
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
        return new SchemaScript(resourceName[resourcePrefix.Length..], sql, sha256);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "PostgreSQL schema applied ({ScriptCount} scripts, attempt {Attempt})")]
    private static partial void LogApplied(ILogger logger, int scriptCount, int attempt);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "PostgreSQL not reachable yet (attempt {Attempt}), retrying in {Delay}: {Reason}")]
    private static partial void LogRetrying(ILogger logger, Exception exception, int attempt, TimeSpan delay, string reason);
}

/// <summary>One embedded schema script.</summary>
/// <param name="Name">File name, e.g. <c>02-clustering.sql</c>; scripts apply in name order.</param>
/// <param name="Sql">The script text.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the text, recorded in <c>grid_schema_script</c>.</param>
public sealed record SchemaScript(string Name, string Sql, string Sha256);
