using System.Reflection;
using System.Text.RegularExpressions;
using Grid.Testing;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Configuration;
using Orleans.Storage;

namespace Grid.Storage.Tests;

[Collection(PostgresCollection.Name)]
public sealed partial class SchemaTests(PostgresFixture postgres)
{
    [Fact]
    public async Task SchemaAppliesTwiceAndTheSecondRunRestoresStaleQueryText()
    {
        var connectionString = await postgres.NewDatabaseAsync("twice");
        await PostgresSchema.ApplyAsync(connectionString);
        await CountAsync(connectionString, "WITH s AS (UPDATE orleansquery SET querytext = 'stale' WHERE querykey = 'WriteToStorageKey' RETURNING 1) SELECT count(*) FROM s");

        await PostgresSchema.ApplyAsync(connectionString);

        Assert.Equal(0, await CountAsync(connectionString, "SELECT count(*) FROM orleansquery WHERE querytext = 'stale'"));
        Assert.Equal(PostgresSchema.Scripts.Count, await CountAsync(connectionString, "SELECT count(*) FROM grid_schema_script"));
    }

    [Fact]
    public async Task SchemaAppliesFromThreeConcurrentCallers()
    {
        var connectionString = await postgres.NewDatabaseAsync("concurrent");

        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => PostgresSchema.ApplyAsync(connectionString))));

        Assert.Equal(1, await CountAsync(connectionString, "SELECT count(*) FROM pg_tables WHERE tablename = 'orleans_membership'"));
    }

    [Fact]
    public async Task EveryQueryKeyTheProvidersRequireIsStored()
    {
        var connectionString = await postgres.NewDatabaseAsync("keys");
        await PostgresSchema.ApplyAsync(connectionString);

        var stored = new HashSet<string>();
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT querykey FROM orleansquery", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                stored.Add(reader.GetString(0));
            }
        }

        var required = RequiredQueryKeys();
        Assert.Contains("CleanupDefunctSiloEntriesKey", required);
        Assert.Contains("UpsertReminderRowKey", required);
        Assert.Contains("WriteToStorageKey", required);
        Assert.Empty(required.Except(stored));
    }

    [Fact]
    public async Task ApplyWaitsForADatabaseThatIsStillStartingWhileHealthReportsUnhealthy()
    {
        var connectionString = await postgres.NewDatabaseAsync("outage");
        await postgres.Server.StopAsync();
        try
        {
            var logger = new RecordingLogger();
            var applying = PostgresSchema.ApplyAsync(connectionString, logger, TimeSpan.FromSeconds(30));
            await Poll.UntilAsync(() => logger.Entries.Any(e => e.Level == LogLevel.Warning), TimeSpan.FromSeconds(10), "a logged retry");
            Assert.False(applying.IsCompleted);
            var health = await new PostgresHealthCheck(connectionString, TimeSpan.FromSeconds(1)).CheckHealthAsync(new());
            Assert.Equal(HealthStatus.Unhealthy, health.Status);

            await postgres.Server.StartAsync();
            await applying.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            if (!await IsUpAsync())
            {
                await postgres.Server.StartAsync();
            }
        }

        Assert.True(await CountAsync(connectionString, "SELECT count(*) FROM orleansquery") > 20);
    }

    /// <summary>
    /// The keys the referenced Orleans provider assemblies look up, read from the assemblies
    /// themselves so an Orleans upgrade that adds one fails here instead of at silo start.
    /// </summary>
    private static HashSet<string> RequiredQueryKeys()
    {
        var keys = new HashSet<string>();
        Assembly[] providers =
        [
            typeof(AdoNetClusteringSiloOptions).Assembly,
            typeof(AdoNetReminderTableOptions).Assembly,
        ];
        foreach (var assembly in providers)
        {
            var queries = assembly.GetTypes().Single(t => t.Name == "DbStoredQueries");
            keys.UnionWith(queries.GetProperties(BindingFlags.Instance | BindingFlags.NonPublic).Select(p => p.Name));
        }

        // Grain storage selects its keys with one fixed query; DeleteStorageKey is only read when DeleteStateOnClear is on.
        var storageQuery = typeof(AdoNetGrainStorage).GetField("DefaultInitializationQuery")!.GetRawConstantValue() as string;
        keys.UnionWith(QueryKeyLiteral().Matches(storageQuery!).Select(m => m.Groups[1].Value));
        keys.Add("DeleteStorageKey");
        return keys;
    }

    private async Task<bool> IsUpAsync()
    {
        try
        {
            await PostgresHealthCheck.PingAsync(postgres.Server.ConnectionString, TimeSpan.FromSeconds(2));
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException)
        {
            return false;
        }
    }

    internal static async Task<long> CountAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    [GeneratedRegex("QueryKey = '(\\w+)'")]
    private static partial Regex QueryKeyLiteral();
}
