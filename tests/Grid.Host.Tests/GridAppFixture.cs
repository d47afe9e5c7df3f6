namespace Grid.Host.Tests;

/// <summary>One in-memory grid shared by the API tests; each test makes its own twin, farms and nodes.</summary>
public sealed class GridAppFixture : IAsyncLifetime
{
    public GridApp App { get; private set; } = null!;

    public GridClient Client => new(App.Client);

    public async Task InitializeAsync() => App = await GridApp.StartAsync();

    public async Task DisposeAsync() => await App.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class GridAppCollection : ICollectionFixture<GridAppFixture>
{
    public const string Name = "grid app";
}
