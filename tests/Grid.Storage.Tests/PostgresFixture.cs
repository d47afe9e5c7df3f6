using Grid.Testing;

namespace Grid.Storage.Tests;

/// <summary>One throwaway PostgreSQL server for every test of the collection; each test takes its own database.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private int _databases;
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException("The server has not started.");

    public async Task InitializeAsync() => _server = await PostgresServer.StartNewAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>A fresh, empty database named after the test.</summary>
    public Task<string> NewDatabaseAsync(string purpose) =>
        Server.CreateDatabaseAsync($"{purpose}_{Interlocked.Increment(ref _databases)}");
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}
