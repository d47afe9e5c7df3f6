using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Configuration;

namespace Grid.Storage.Tests;

/// <summary>
/// The schema's numbers (<c>grid_schema_version</c>): recorded with the release that applied them, added in place
/// to a database from before the table, and a database newer than a silo knows is refused with nothing changed.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class SchemaVersionTests(PostgresFixture postgres)
{
    // Changes whenever any script's row is re-recorded.
    private const string AppliedAtSum = "SELECT sum(extract(epoch FROM applied_at) * 1000000)::bigint FROM grid_schema_script";

    private static readonly int Newest = PostgresSchema.Scripts.Max(s => int.Parse(s.Name[..2], System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task EveryScriptNumberIsRecordedWithTheReleaseThatAppliedIt()
    {
        var connectionString = await postgres.NewDatabaseAsync("versions");

        await PostgresSchema.ApplyAsync(connectionString);

        Assert.Equal(PostgresSchema.Scripts.Count, await SchemaTests.CountAsync(connectionString, "SELECT count(*) FROM grid_schema_version"));
        Assert.Equal(Newest, await SchemaTests.CountAsync(connectionString, "SELECT max(number) FROM grid_schema_version"));
        Assert.Equal(PostgresSchema.Scripts.Count, await SchemaTests.CountAsync(connectionString,
            $"SELECT count(*) FROM grid_schema_version WHERE release = '{GridRelease.Version}'"));
    }

    [Fact]
    public async Task ADatabaseFromBeforeTheVersionTableIsUpgradedInPlaceKeepingItsData()
    {
        var connectionString = await postgres.NewDatabaseAsync("preversion");
        await PostgresSchema.ApplyAsync(connectionString);
        // As a database of release 0.2.0 was: the same tables and data, no version table.
        await ExecuteAsync(connectionString,
            "DROP TABLE grid_schema_version; INSERT INTO orleans_membership_version (deployment_id, version) VALUES ('old-cluster', 7)");

        await PostgresSchema.ApplyAsync(connectionString);

        Assert.Equal(Newest, await SchemaTests.CountAsync(connectionString, "SELECT max(number) FROM grid_schema_version"));
        Assert.Equal(7, await SchemaTests.CountAsync(connectionString, "SELECT version FROM orleans_membership_version WHERE deployment_id = 'old-cluster'"));
    }

    [Fact]
    public async Task ASchemaNewerThanTheSiloKnowsIsRefusedWithNothingChanged()
    {
        var connectionString = await postgres.NewDatabaseAsync("toonew");
        await PostgresSchema.ApplyAsync(connectionString);
        var future = Newest + 1;
        await ExecuteAsync(connectionString,
            $"INSERT INTO grid_schema_version (number, script, release) VALUES ({future}, '{future:00}-future.sql', '9.9.0');"
            + "UPDATE orleansquery SET querytext = 'written by 9.9.0' WHERE querykey = 'WriteToStorageKey'");
        var scriptsBefore = await SchemaTests.CountAsync(connectionString, AppliedAtSum);

        var refused = await Assert.ThrowsAsync<SchemaTooNewException>(() => PostgresSchema.ApplyAsync(connectionString));

        Assert.Equal(future, refused.DatabaseNumber);
        Assert.Equal("9.9.0", refused.DatabaseRelease);
        Assert.Contains($"number {future}", refused.Message, StringComparison.Ordinal);
        Assert.Contains("run release 9.9.0 or later", refused.Message, StringComparison.Ordinal);
        // The newer release's query text stays: the older silo replaced nothing.
        Assert.Equal(1, await SchemaTests.CountAsync(connectionString, "SELECT count(*) FROM orleansquery WHERE querytext = 'written by 9.9.0'"));
        Assert.Equal(scriptsBefore, await SchemaTests.CountAsync(connectionString, AppliedAtSum));
        Assert.Equal(PostgresSchema.Scripts.Count + 1, await SchemaTests.CountAsync(connectionString, "SELECT count(*) FROM grid_schema_version"));
        await Assert.ThrowsAsync<SchemaTooNewException>(() => PostgresSchema.EnsureNotNewerAsync(connectionString, []));
    }

    [Fact]
    public async Task ASiloDoesNotStartOnASchemaALaterReleaseWrote()
    {
        var connectionString = await postgres.NewDatabaseAsync("silodowngrade");
        await PostgresSchema.ApplyAsync(connectionString);
        await ExecuteAsync(connectionString, "INSERT INTO grid_schema_version (number, script, release) VALUES (99, '99-future.sql', '9.9.0')");
        var logs = new RecordingLoggerProvider();
        using var host = SiloTests.BuildSilo(connectionString, new ClusterOptions { ClusterId = "grid-downgrade", ServiceId = "grid-downgrade-service" }, logs);

        var failure = await Record.ExceptionAsync(() => host.StartAsync().WaitAsync(TimeSpan.FromSeconds(60)));

        Assert.NotNull(failure);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Critical && e.Message.Contains("Refusing to start, nothing was changed", StringComparison.Ordinal));
        Assert.Equal(0, await SchemaTests.CountAsync(connectionString, "SELECT count(*) FROM orleans_membership WHERE deployment_id = 'grid-downgrade'"));
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
