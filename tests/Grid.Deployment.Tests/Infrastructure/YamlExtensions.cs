using YamlDotNet.RepresentationModel;

namespace Grid.Deployment.Tests.Infrastructure;

/// <summary>Null-tolerant navigation over YamlDotNet's representation model.</summary>
public static class YamlExtensions
{
    public static YamlNode? At(this YamlNode? node, params string[] keys)
    {
        foreach (var key in keys)
        {
            if (node is not YamlMappingNode mapping || !mapping.Children.TryGetValue(new YamlScalarNode(key), out node))
            {
                return null;
            }
        }

        return node;
    }

    public static string? Str(this YamlNode? node, params string[] keys) => (node.At(keys) as YamlScalarNode)?.Value;

    public static IReadOnlyList<YamlNode> Items(this YamlNode? node, params string[] keys) =>
        node.At(keys) is YamlSequenceNode sequence ? sequence.Children.ToList() : [];

    public static IReadOnlyList<string> Strings(this YamlNode? node, params string[] keys) =>
        node.Items(keys).OfType<YamlScalarNode>().Select(s => s.Value ?? "").ToList();

    public static IReadOnlyDictionary<string, string> Map(this YamlNode? node, params string[] keys)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node.At(keys) is YamlMappingNode mapping)
        {
            foreach (var (key, value) in mapping.Children)
            {
                if (key is YamlScalarNode k && value is YamlScalarNode v)
                {
                    result[k.Value ?? ""] = v.Value ?? "";
                }
            }
        }

        return result;
    }

    public static IReadOnlyList<YamlMappingNode> LoadDocuments(string text)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(text);
        stream.Load(reader);
        return stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().ToList();
    }
}
