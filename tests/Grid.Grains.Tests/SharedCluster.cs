namespace Grid.Grains.Tests;

/// <summary>
/// One default-settings cluster for the tests that neither move its clock nor place a reservation wherever the grid
/// has room nor count what the whole grid holds: each works on ids of its own (<see cref="GridCluster.NewId"/>), so
/// what earlier tests left behind (up nodes, held allocations) cannot change its outcome. Tests that do any of these
/// start their own cluster.
/// </summary>
public sealed class SharedCluster : IAsyncLifetime
{
    private GridCluster _grid = null!;

    /// <summary>
    /// The cluster, with no write held or failing and no call dropped: a test that failed while it had armed one
    /// must not fail the tests after it.
    /// </summary>
    public GridCluster Grid
    {
        get
        {
            _grid.Stall.Release();
            _grid.Drop.Disarm();
            _grid.Drop.StopFailing();
            return _grid;
        }
    }

    public async Task InitializeAsync() => _grid = await GridCluster.StartAsync();

    public async Task DisposeAsync() => await _grid.DisposeAsync();
}

/// <summary>The tests on the <see cref="SharedCluster"/>; they run one after another, so a write stall one arms is its own.</summary>
[CollectionDefinition(Name)]
public sealed class SharedClusterCollection : ICollectionFixture<SharedCluster>
{
    public const string Name = "shared-cluster";
}
