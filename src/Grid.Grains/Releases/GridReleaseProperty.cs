using Orleans.Metadata;

namespace Grid.Releases;

/// <summary>
/// Writes this build's release (<see cref="GridRelease.Version"/>) into the silo's grain manifest, which Orleans
/// shares with every silo of the cluster: so each silo's own release is known cluster-wide without a grain call
/// (a call could not reach a silo of an older release that lacks the method), and a silo of a release older than
/// this mechanism simply has no such property.
/// </summary>
internal sealed class GridReleaseProperty : IGrainPropertiesProvider
{
    /// <summary>The property's key in each grain type's properties.</summary>
    public const string Key = "grid.release";

    public void Populate(Type grainClass, GrainType grainType, Dictionary<string, string> properties) =>
        properties[Key] = GridRelease.Version;
}
