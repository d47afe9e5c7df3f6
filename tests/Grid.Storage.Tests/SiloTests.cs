using System.Net;
using System.Text;
using System.Text.Json;
using Grid.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Configuration;

namespace Grid.Storage.Tests;

[Collection(PostgresCollection.Name)]
public sealed class SiloTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task StateRemindersAndMembershipSurviveAClusterRestartOnPostgres()
    {
        var connectionString = await postgres.NewDatabaseAsync("silo");
        var cluster = new ClusterOptions { ClusterId = "grid-test", ServiceId = "grid-test-service" };
        var key = $"probe-{Guid.NewGuid():N}";
        var saved = SerializerTests.SampleState();
        var logs = new RecordingLoggerProvider();

        // First cluster: schema applied by the silo itself, state written, reminder registered and firing.
        await using (var first = await StartSiloAsync(connectionString, cluster, logs))
        {
            var probe = first.Services.GetRequiredService<IGrainFactory>().GetGrain<IProbeGrain>(key);
            await probe.Save(saved);
            await probe.StartTicking(TimeSpan.FromSeconds(1));

            Assert.Equal(1, await SchemaTests.CountAsync(connectionString,
                $"SELECT count(*) FROM orleans_reminder WHERE service_id = '{cluster.ServiceId}' AND reminder_name = '{ProbeGrain.ReminderName}'"));
            Assert.Equal(1, await SchemaTests.CountAsync(connectionString,
                $"SELECT count(*) FROM orleans_membership WHERE deployment_id = '{cluster.ClusterId}' AND status = 3"));
            await Poll.UntilAsync(() => ProbeGrain.Ticks.GetValueOrDefault(key) > 0, Patience, "the reminder to fire in the first cluster");
            await first.StopAsync();
        }

        // The stored payload is the Grid's JSON, not a CLR-typed blob.
        var payload = await ReadPayloadAsync(connectionString, key);
        using (var document = JsonDocument.Parse(payload))
        {
            Assert.Equal("farm-7", document.RootElement.GetProperty("name").GetString());
        }

        Assert.DoesNotContain("$type", payload, StringComparison.Ordinal);
        Assert.DoesNotContain("Grid.Storage", payload, StringComparison.Ordinal);

        // Second cluster with the same ids: it must read the state back and pick the reminder up from the table.
        ProbeGrain.Ticks.TryRemove(key, out _);
        await using (var second = await StartSiloAsync(connectionString, cluster, logs))
        {
            var probe = second.Services.GetRequiredService<IGrainFactory>().GetGrain<IProbeGrain>(key);

            SerializerTests.AssertSameState(saved, await probe.Load());
            await Poll.UntilAsync(() => ProbeGrain.Ticks.GetValueOrDefault(key) > 0, Patience, "the stored reminder to fire in the second cluster");
            Assert.Equal(1, await SchemaTests.CountAsync(connectionString,
                $"SELECT count(*) FROM orleans_membership WHERE deployment_id = '{cluster.ClusterId}' AND status = 3"));
            Assert.Equal(1, await SchemaTests.CountAsync(connectionString,
                $"SELECT count(*) FROM orleans_membership WHERE deployment_id = '{cluster.ClusterId}' AND status = 6"));

            // The cleanup Orleans runs (hourly by default) goes through our SQL: the first silo's dead row goes, the live one stays.
            await second.Services.GetRequiredService<IMembershipTable>().CleanupDefunctSiloEntriesAsync(DateTimeOffset.UtcNow, CancellationToken.None);
            Assert.Equal(0, await SchemaTests.CountAsync(connectionString,
                $"SELECT count(*) FROM orleans_membership WHERE deployment_id = '{cluster.ClusterId}' AND status = 6"));
            Assert.Equal(1, await SchemaTests.CountAsync(connectionString,
                $"SELECT count(*) FROM orleans_membership WHERE deployment_id = '{cluster.ClusterId}' AND status = 3"));

            Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy,
                (await second.Services.GetRequiredService<PostgresHealthCheck>().CheckHealthAsync(new())).Status);
            await second.StopAsync();
        }

        // Every provider query ran against our SQL; any mismatch with the contract shows up as an error log.
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
    }

    private static async Task<SiloHost> StartSiloAsync(string connectionString, ClusterOptions cluster, RecordingLoggerProvider logs)
    {
        var host = BuildSilo(connectionString, cluster, logs);
        await host.StartAsync();
        return new SiloHost(host);
    }

    /// <summary>A silo on <paramref name="connectionString"/>, not started yet, logging Warning and above to <paramref name="logs"/>.</summary>
    internal static IHost BuildSilo(string connectionString, ClusterOptions cluster, RecordingLoggerProvider logs)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddProvider(logs);
        builder.UseOrleans(silo => silo
            .Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = cluster.ServiceId;
            })
            .ConfigureEndpoints(IPAddress.Loopback, FreePort.Get(), FreePort.Get())
            .Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1))
            .UseGridPostgres(connectionString));
        return builder.Build();
    }

    private static async Task<string> ReadPayloadAsync(string connectionString, string key)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT payload FROM orleans_grain_state WHERE grain_id_extension = @key", connection);
        command.Parameters.AddWithValue("key", key);
        var bytes = (byte[]?)await command.ExecuteScalarAsync();
        Assert.NotNull(bytes);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>A started silo host that is always stopped and disposed.</summary>
    private sealed class SiloHost(IHost host) : IAsyncDisposable
    {
        public IServiceProvider Services => host.Services;

        public Task StopAsync() => host.StopAsync();

        public async ValueTask DisposeAsync()
        {
            using (host)
            {
                await host.StopAsync();
            }
        }
    }
}
