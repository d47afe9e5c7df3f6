using System.Globalization;
using Orleans.Metadata;

namespace Grid.Releases;

/// <summary>
/// What the silos of the cluster run, read from the cluster manifest Orleans keeps on every silo: each silo's release
/// (<see cref="GridReleaseProperty"/>) and the version (<c>[Version(n)]</c>) of each grain interface it serves. A
/// caller about to use a grain method added in a later release asks <see cref="EverySiloSupports"/> first: while any
/// silo of an older release is in the cluster, an activation there would not know the method.
/// </summary>
public sealed class ClusterReleases(IClusterManifestProvider manifests, GrainInterfaceTypeResolver interfaces)
{
    /// <summary>The release <paramref name="silo"/> runs; null for a silo that is not active or predates release numbers.</summary>
    public string? ReleaseOf(SiloAddress silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        if (!manifests.Current.Silos.TryGetValue(silo, out var manifest))
        {
            return null;
        }

        foreach (var grain in manifest.Grains.Values)
        {
            if (grain.Properties.TryGetValue(GridReleaseProperty.Key, out var release))
            {
                return release;
            }
        }

        return null;
    }

    /// <summary>
    /// True when every active silo serves <paramref name="grainInterface"/> at <paramref name="version"/> or later:
    /// only then may a method added at that version be called (the activation may live on any silo).
    /// </summary>
    public bool EverySiloSupports(Type grainInterface, ushort version)
    {
        ArgumentNullException.ThrowIfNull(grainInterface);
        var type = interfaces.GetGrainInterfaceType(grainInterface);
        var silos = manifests.Current.Silos;
        return silos.Count > 0 && silos.Values.All(silo => VersionOf(silo, type) >= version);
    }

    private static int VersionOf(GrainManifest silo, GrainInterfaceType type) =>
        !silo.Interfaces.TryGetValue(type, out var properties) ? -1
        : !properties.Properties.TryGetValue(WellKnownGrainInterfaceProperties.Version, out var text) ? 0
        : int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
}
