using YamlDotNet.RepresentationModel;

namespace Grid.Deployment.Tests.Infrastructure;

/// <summary>Everything under k8s/ that kustomize applies, parsed once.</summary>
public static class K8s
{
    private static readonly Lazy<IReadOnlyList<Manifest>> LazyManifests = new(LoadAll);

    public static string Folder => RepoRoot.Combine("k8s");

    public static YamlMappingNode Kustomization =>
        YamlExtensions.LoadDocuments(File.ReadAllText(Path.Combine(Folder, "kustomization.yaml"))).Single();

    /// <summary>Every YAML file under k8s/ except the kustomization, relative to k8s/ with '/' separators.</summary>
    public static IReadOnlyList<string> ManifestFiles =>
        Directory.EnumerateFiles(Folder, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(Folder, f).Replace('\\', '/'))
            .Where(f => f is not "kustomization.yaml" and not "kustomization.yml")
            .Order(StringComparer.Ordinal)
            .ToList();

    public static IReadOnlyList<Manifest> Manifests => LazyManifests.Value;

    public static IEnumerable<Manifest> OfKind(string kind) => Manifests.Where(m => m.Kind == kind);

    public static Manifest? Find(string kind, string name) => Manifests.SingleOrDefault(m => m.Kind == kind && m.Name == name);

    /// <summary>The silo Deployment: the one whose pods carry the Orleans service id label.</summary>
    public static Manifest Silo => OfKind("Deployment").Single(d => d.PodLabels.ContainsKey(HostContract.ServiceIdLabel));

    public static YamlNode SiloContainer => Assert.Single(Silo.Containers);

    public static ContainerEnvironment SiloEnv => ContainerEnvironment.Of(SiloContainer);

    /// <summary>True when every label of <paramref name="selector"/> is on <paramref name="labels"/>.</summary>
    public static bool Selects(IReadOnlyDictionary<string, string> selector, IReadOnlyDictionary<string, string> labels) =>
        selector.Count > 0 && selector.All(s => labels.TryGetValue(s.Key, out var v) && v == s.Value);

    /// <summary>The containerPort a probe's or Service's port (a number or a port name) refers to.</summary>
    public static int? ResolvePort(YamlNode container, string? port)
    {
        if (port is null)
        {
            return null;
        }

        if (int.TryParse(port, out var number))
        {
            return number;
        }

        var named = container.Items("ports").FirstOrDefault(p => p.Str("name") == port);
        return int.TryParse(named.Str("containerPort"), out var resolved) ? resolved : null;
    }

    public static int? NamedPort(YamlNode container, string name) => ResolvePort(container, name) is { } p && p > 0 ? p : null;

    private static IReadOnlyList<Manifest> LoadAll() =>
        ManifestFiles
            .SelectMany(f => YamlExtensions.LoadDocuments(File.ReadAllText(Path.Combine(Folder, f))).Select(root => new Manifest(f, root)))
            .ToList();
}
