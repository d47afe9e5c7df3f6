using Grid.Hosting;
using Microsoft.Extensions.Options;

namespace Grid;

/// <summary>Checks <c>Grid:Index</c> at start; every wrong value is one reason naming its key.</summary>
public sealed class GridIndexOptionsValidator : IValidateOptions<GridIndexOptions>
{
    public ValidateOptionsResult Validate(string? name, GridIndexOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new SettingsCheck(GridIndexOptions.Section)
            .Between(nameof(options.Shards), options.Shards, 1, 1024)
            .Positive(nameof(options.RefreshInterval), options.RefreshInterval)
            .Result();
    }
}
