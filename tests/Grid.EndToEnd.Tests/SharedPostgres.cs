using Grid.Testing;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// One throwaway PostgreSQL server for the tests of a collection, each on a database of its own
/// (<see cref="PostgresServer.CreateDatabaseAsync"/>): a server's initdb and start cost seconds of a 2-core machine
/// per test otherwise. A test that stops or restarts PostgreSQL starts a server of its own.
/// </summary>
public sealed class SharedPostgres : IAsyncLifetime
{
    public PostgresServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await PostgresServer.StartNewAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
