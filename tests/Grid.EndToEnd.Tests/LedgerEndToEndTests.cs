using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Grid.Testing;
using Npgsql;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// The ledger on a real controller process and PostgreSQL, checked by the real <c>grid ledger verify</c>: the
/// append-only triggers, a row changed or deleted behind the triggers' back, a checkpoint key that is not the
/// grid's, and the chain continuing after kill -9 of the controller.
/// </summary>
[Collection(ClockBound.Name)]
public sealed class LedgerEndToEndTests(SharedPostgres shared)
{
    // A fixed test key: checkpoints must verify against its public key after a restart.
    private const string SigningKey = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";

    [Fact]
    public async Task VerifyFindsTamperingAndTheChainSurvivesAKilledController()
    {
        var postgres = shared.Server;
        var database = await postgres.CreateDatabaseAsync("grid_ledger");
        await using var grid = new GridProcesses();
        string[] settings =
        [
            "--Grid:Storage=postgres", $"--ConnectionStrings:Grid={database}", "--Grid:Cluster:AdvertisedAddress=127.0.0.1",
            // The restarted controller must find its killed predecessor dead quickly.
            "--Grid:Cluster:ProbeTimeout=00:00:01", "--Grid:Cluster:NumMissedProbesLimit=2", "--Grid:Cluster:TableRefreshTimeout=00:00:02",
            $"--Grid:Ledger:SigningKey={SigningKey}", "--Grid:Ledger:CheckpointEvery=3", "--Logging:LogLevel:Default=Warning",
        ];
        var silo = await grid.StartHostAsync(settings);
        var key = await SeedAsync(grid, twins: 8);
        var publicKey = LedgerCheckpoints.PublicKeyOf(SigningKey);

        var verified = await VerifyAsync(grid, "--public-key", publicKey, "--api-key", key);
        Assert.True(verified.ExitCode == 0, verified.Output);
        Assert.Contains("ledger verified", verified.Output, StringComparison.Ordinal);

        var otherKey = await VerifyAsync(grid, "--public-key", LedgerCheckpoints.PublicKeyOf(LedgerCheckpoints.NewPrivateKey()));
        Assert.Equal(1, otherKey.ExitCode);
        Assert.Contains("is signed by", otherKey.Output, StringComparison.Ordinal);

        var refused = await Assert.ThrowsAsync<PostgresException>(() => SqlAsync(database, "UPDATE grid_ledger_entry SET subject = 'twin:666' WHERE seq = 2"));
        Assert.Contains("append-only", refused.MessageText, StringComparison.Ordinal);
        await Assert.ThrowsAsync<PostgresException>(() => SqlAsync(database, "TRUNCATE grid_ledger_posting"));
        await Assert.ThrowsAsync<PostgresException>(() => SqlAsync(database, "DELETE FROM grid_ledger_entry WHERE seq = 2"));

        // Behind the triggers' back (as the table owner could): a changed row, then, after restoring it, a deleted one.
        var original = await ScalarAsync(database, "SELECT subject FROM grid_ledger_entry WHERE seq = 4");
        await SqlAsync(database, "ALTER TABLE grid_ledger_entry DISABLE TRIGGER USER; UPDATE grid_ledger_entry SET subject = 'twin:666' WHERE seq = 4");
        var changed = await VerifyAsync(grid, "--public-key", publicKey);
        Assert.Equal(1, changed.ExitCode);
        Assert.Contains("at sequence number 4:", changed.Output, StringComparison.Ordinal);

        await SqlAsync(database, $"UPDATE grid_ledger_entry SET subject = '{original}' WHERE seq = 4");
        Assert.Equal(0, (await VerifyAsync(grid, "--public-key", publicKey)).ExitCode);
        await SqlAsync(database, "DELETE FROM grid_ledger_entry WHERE seq = 6");
        var deleted = await VerifyAsync(grid, "--public-key", publicKey);
        Assert.Equal(1, deleted.ExitCode);
        Assert.Contains("at sequence number 6:", deleted.Output, StringComparison.Ordinal);
        Kill(silo);

        // kill -9 of the controller between appends: the next one reads the head from the database and goes on.
        grid.Silos.Clear();
        var failoverDatabase = await postgres.CreateDatabaseAsync("grid_ledger_failover");
        // Restarted on the same silo endpoint, as a controller on its own machine is: Orleans retires the killed
        // predecessor at once instead of waiting for probes of a silo nobody else is left to vote on.
        string[] fresh =
        [
            .. settings.Select(s => s.StartsWith("--ConnectionStrings:Grid=", StringComparison.Ordinal) ? $"--ConnectionStrings:Grid={failoverDatabase}" : s),
            $"--Grid:Cluster:SiloPort={FreePort.Get()}", $"--Grid:Cluster:GatewayPort={FreePort.Get()}",
        ];
        var first = await grid.StartHostAsync(fresh);
        await SeedAsync(grid, twins: 4);
        Kill(first);
        grid.Silos.Clear();
        await grid.StartHostAsync(fresh);
        await SeedAsync(grid, twins: 4);

        var afterRestart = await VerifyAsync(grid, "--public-key", publicKey, "--json");
        Assert.True(afterRestart.ExitCode == 0, afterRestart.Output);
        Assert.Contains("\"entries\": 8", afterRestart.Output, StringComparison.Ordinal);
    }

    private static void Kill(SiloProcess silo)
    {
        using var victim = Process.GetProcessById(silo.Process.Pid);
        victim.Kill(entireProcessTree: false);
        victim.WaitForExit();
    }

    /// <summary>Creates twins on the newest silo (each one a <c>twin.created</c> entry); returns the last one's key.</summary>
    private static async Task<string> SeedAsync(GridProcesses grid, int twins)
    {
        var key = "";
        for (var i = 0; i < twins; i++)
        {
            using var response = await grid.Silos[^1].Http.PostAsJsonAsync("/api/v1/twins", new { name = $"ledger-{i}" });
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            key = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("apiKey").GetString()!;
        }

        return key;
    }

    private static Task<(int ExitCode, string Output)> VerifyAsync(GridProcesses grid, params string[] options) =>
        ChildProcess.RunAsync("dotnet", [BuiltApp.PathOf("Grid.Cli", "grid.dll"), "ledger", "verify", "--api", grid.Silos[^1].Api.ToString().TrimEnd('/'), .. options],
            TimeSpan.FromSeconds(60));

    private static async Task<string> ScalarAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private static async Task SqlAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
