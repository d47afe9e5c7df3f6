using System.Net.Sockets;
using Grid.Testing;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Grid.Storage.Tests;

/// <summary>What a silo knows about its own database link: the failure streak a storage-loss leave is based on.</summary>
public sealed class StorageHealthTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void TheStreakRunsFromTheFirstFailureAndAnySuccessEndsIt()
    {
        var health = new StorageHealth(_time, _ => Task.CompletedTask);
        Assert.Equal(TimeSpan.Zero, health.FailingFor);
        Assert.Null(health.SinceLastFailure);

        health.Failed();
        _time.Advance(TimeSpan.FromSeconds(1));
        health.Failed();
        _time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(TimeSpan.FromSeconds(2.5), health.FailingFor);
        Assert.Equal(TimeSpan.FromSeconds(1.5), health.SinceLastFailure);

        health.Succeeded();
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.Zero, health.FailingFor);
        // A silo that failed recently never vouches for itself: the last failure is still remembered.
        Assert.Equal(TimeSpan.FromSeconds(2.5), health.SinceLastFailure);
    }

    [Fact]
    public void OnlyFailuresToReachTheDatabaseCount()
    {
        var health = new StorageHealth(_time, _ => Task.CompletedTask);
        health.Observe(new InvalidCastException("a bug, not the link"));
        Assert.Null(health.SinceLastFailure);

        health.Observe(new NpgsqlException("Failed to connect", new SocketException((int)SocketError.ConnectionRefused)));
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(TimeSpan.FromSeconds(3), health.FailingFor);

        // PostgreSQL answering with an error proves the link works.
        health.Observe(new PostgresException("duplicate key", "ERROR", "ERROR", "23505"));
        Assert.Equal(TimeSpan.Zero, health.FailingFor);
    }

    [Fact]
    public async Task AProbeOfADatabaseThatDoesNotAnswerIsAFailure()
    {
        var nobody = $"Host=127.0.0.1;Port={FreePort.Get()};Username=postgres;Database=grid;Timeout=2";
        var health = new StorageHealth(_time, cancellationToken => PostgresHealthCheck.PingAsync(nobody, TimeSpan.FromSeconds(2), cancellationToken));

        Assert.False(await health.ProbeAsync());
        Assert.NotNull(health.SinceLastFailure);

        var answering = new StorageHealth(_time, _ => Task.CompletedTask);
        Assert.True(await answering.ProbeAsync());
        Assert.Null(answering.SinceLastFailure);
    }
}
