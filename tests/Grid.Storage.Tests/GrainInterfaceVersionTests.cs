using System.Reflection;
using Grid.Grains;

namespace Grid.Storage.Tests;

/// <summary>
/// The rule that lets silos of two releases share a cluster (docs/CHANGELOG.md): a grain interface never loses or
/// changes a method a release had, and one that gains a method raises its <c>[Version]</c>, so that Orleans moves an
/// activation of the older release to a silo that has the method instead of calling it there. Each release's
/// interfaces are recorded in <c>Releases/grain-interfaces-X.Y.Z.txt</c> (interface and version, then one method per line).
/// </summary>
public sealed class GrainInterfaceVersionTests
{
    public static TheoryData<string> Releases() =>
        [.. Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Releases"), "grain-interfaces-*.txt").Select(Path.GetFileName).OfType<string>()];

    [Theory]
    [MemberData(nameof(Releases))]
    public void AnInterfaceKeepsEveryMethodOfAReleaseAndRaisesItsVersionWhenItGainsOne(string release)
    {
        var current = Describe(typeof(INodeGrain).Assembly);
        var problems = new List<string>();
        foreach (var (name, (version, methods)) in Read(Path.Combine(AppContext.BaseDirectory, "Releases", release)))
        {
            if (!current.TryGetValue(name, out var now))
            {
                problems.Add($"{name} is gone (a silo of {release} still calls it)");
                continue;
            }

            problems.AddRange(methods.Except(now.Methods).Select(m => $"{name} lost or changed '{m}'"));
            if (!now.Methods.SetEquals(methods) && now.Version <= version)
            {
                problems.Add($"{name} gained {string.Join(", ", now.Methods.Except(methods).Select(m => $"'{m}'"))} but is still [Version({now.Version})]: raise it above {version}");
            }
        }

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    /// <summary>Every versioned grain interface of <paramref name="assembly"/>: its version and methods, as the release files write them.</summary>
    private static Dictionary<string, (int Version, HashSet<string> Methods)> Describe(Assembly assembly) =>
        assembly.GetTypes().Where(t => t.IsInterface && t.GetCustomAttribute<Orleans.CodeGeneration.VersionAttribute>() is not null)
            .ToDictionary(t => t.FullName!, t => ((int)t.GetCustomAttribute<Orleans.CodeGeneration.VersionAttribute>()!.Version,
                t.GetMethods().Select(m => $"{m.ReturnType} {m.Name}({string.Join(", ", m.GetParameters().Select(p => p.ParameterType))})").ToHashSet()));

    private static Dictionary<string, (int Version, HashSet<string> Methods)> Read(string path)
    {
        var interfaces = new Dictionary<string, (int Version, HashSet<string> Methods)>();
        HashSet<string>? methods = null;
        foreach (var line in File.ReadLines(path).Where(l => l.Trim().Length > 0))
        {
            if (line.StartsWith("  ", StringComparison.Ordinal))
            {
                methods!.Add(line.Trim());
                continue;
            }

            var parts = line.Split(' ');
            methods = [];
            interfaces[parts[0]] = (int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), methods);
        }

        return interfaces;
    }
}
