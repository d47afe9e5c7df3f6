using System.Globalization;
using Npgsql;

namespace Grid.Storage;

/// <summary>
/// The schema's numbers: each script's leading digits (<c>05-ledger.sql</c> is 5), recorded in
/// <c>grid_schema_version</c> with the release that applied it. A database whose newest number is beyond the
/// newest script a silo ships was written by a later release: that silo refuses it before changing anything.
/// </summary>
internal static class PostgresSchemaVersion
{
    /// <summary>The number of <paramref name="script"/>: the digits its name starts with.</summary>
    public static int Number(SchemaScript script)
    {
        var digits = script.Name.TakeWhile(char.IsAsciiDigit).Count();
        return digits == 0
            ? throw new InvalidOperationException($"Schema script {script.Name} must start with its number (e.g. 07-name.sql).")
            : int.Parse(script.Name.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture);
    }

    /// <summary>The newest number among <paramref name="scripts"/>; two scripts may not share one.</summary>
    public static int NewestKnown(IReadOnlyCollection<SchemaScript> scripts)
    {
        if (scripts.GroupBy(Number).FirstOrDefault(g => g.Count() > 1) is { } shared)
        {
            throw new InvalidOperationException(
                $"Schema scripts {string.Join(", ", shared.Select(s => s.Name))} share number {shared.Key}; each number is one script.");
        }

        return scripts.Count == 0 ? 0 : scripts.Max(Number);
    }

    /// <summary>
    /// Throws <see cref="SchemaTooNewException"/> when the database holds a number beyond <paramref name="newestKnown"/>.
    /// A database from before the version table (none yet) passes: it is upgraded in place.
    /// </summary>
    public static async Task EnsureNotNewerAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, int newestKnown, CancellationToken cancellationToken)
    {
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('grid_schema_version') IS NOT NULL", connection, transaction))
        {
            if (await exists.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return;
            }
        }

        await using var newest = new NpgsqlCommand(
            "SELECT number, script, release FROM grid_schema_version ORDER BY number DESC LIMIT 1", connection, transaction);
        await using var reader = await newest.ExecuteReaderAsync(cancellationToken);
        if (await reader.ReadAsync(cancellationToken) && reader.GetInt32(0) > newestKnown)
        {
            throw new SchemaTooNewException(reader.GetInt32(0), reader.GetString(1), reader.GetString(2), newestKnown);
        }
    }

    /// <summary>Records every script's number; a number already recorded keeps the release that applied it first.</summary>
    public static async Task RecordAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<SchemaScript> scripts, CancellationToken cancellationToken)
    {
        foreach (var script in scripts)
        {
            await using var record = new NpgsqlCommand(
                "INSERT INTO grid_schema_version (number, script, release) VALUES (@number, @script, @release) ON CONFLICT (number) DO NOTHING",
                connection,
                transaction);
            record.Parameters.AddWithValue("number", Number(script));
            record.Parameters.AddWithValue("script", script.Name);
            record.Parameters.AddWithValue("release", GridRelease.Version);
            await record.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}
