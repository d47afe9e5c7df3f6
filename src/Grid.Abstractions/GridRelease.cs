using System.Reflection;

namespace Grid;

/// <summary>
/// The release this build belongs to: the SemVer <c>&lt;Version&gt;</c> of <c>Directory.Build.props</c>, which every
/// assembly of the grid carries. Silos publish it (<c>GET /api/v1/cluster</c>), agents send it with their heartbeats.
/// </summary>
public static class GridRelease
{
    /// <summary>The release, e.g. <c>0.3.0</c>, without build metadata (the commit after a <c>+</c>).</summary>
    public static string Version { get; } = Parse(typeof(GridRelease).Assembly);

    /// <summary>The most a reported version may hold: longer text from a peer is not a version of ours.</summary>
    public const int MaxLength = 64;

    /// <summary>The release an assembly was built as: its informational version up to any <c>+metadata</c>.</summary>
    public static string Parse(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString(3)
            ?? "0.0.0";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? informational : informational[..plus];
    }
}
