using Grid.Hosting;

namespace Grid;

/// <summary>Checks <c>Grid:Index</c> at start; every wrong value is one reason naming its key.</summary>
public sealed class GridIndexOptionsValidator() : SettingsValidator<GridIndexOptions>(GridIndexOptions.Section)
{
    protected override void Check(SettingsCheck check, GridIndexOptions options)
    {
        check
            .Between(nameof(options.Shards), options.Shards, 1, 1024)
            .Positive(nameof(options.RefreshInterval), options.RefreshInterval);
    }
}
