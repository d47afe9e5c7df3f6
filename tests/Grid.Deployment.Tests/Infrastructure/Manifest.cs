using YamlDotNet.RepresentationModel;

namespace Grid.Deployment.Tests.Infrastructure;

/// <summary>One Kubernetes object from a file under k8s/.</summary>
public sealed record Manifest(string File, YamlMappingNode Root)
{
    public string Kind => Root.Str("kind") ?? "";

    public string Name => Root.Str("metadata", "name") ?? "";

    public string? Namespace => Root.Str("metadata", "namespace");

    /// <summary>The pod template of a workload (Deployment, StatefulSet, DaemonSet, Job).</summary>
    public YamlNode? PodSpec => Root.At("spec", "template", "spec");

    public IReadOnlyDictionary<string, string> PodLabels => Root.Map("spec", "template", "metadata", "labels");

    public IReadOnlyList<YamlNode> Containers => PodSpec.Items("containers");

    public override string ToString() => $"{Kind}/{Name} ({File})";
}
