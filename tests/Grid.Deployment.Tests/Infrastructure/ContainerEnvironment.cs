using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Grid.Deployment.Tests.Infrastructure;

/// <summary>One entry of a container's <c>env</c> list.</summary>
public sealed record EnvVar(string Name, int Index, string? Value, string? FieldPath, string? SecretName, string? SecretKey);

/// <summary>A container's environment, with Kubernetes' <c>$(VAR)</c> expansion rules.</summary>
public sealed partial class ContainerEnvironment
{
    private readonly Dictionary<string, EnvVar> _vars;

    private ContainerEnvironment(IReadOnlyList<EnvVar> vars)
    {
        All = vars;
        _vars = vars.GroupBy(v => v.Name).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
    }

    public IReadOnlyList<EnvVar> All { get; }

    public static ContainerEnvironment Of(YamlNode container) =>
        new(container.Items("env")
            .Select((e, i) => new EnvVar(
                e.Str("name") ?? "",
                i,
                e.Str("value"),
                e.Str("valueFrom", "fieldRef", "fieldPath"),
                e.Str("valueFrom", "secretKeyRef", "name"),
                e.Str("valueFrom", "secretKeyRef", "key")))
            .ToList());

    public EnvVar? this[string name] => _vars.GetValueOrDefault(name);

    public bool Has(string name) => _vars.ContainsKey(name);

    /// <summary>The names a value refers to with <c>$(NAME)</c>.</summary>
    public static IReadOnlyList<string> References(string? value) =>
        value is null ? [] : Reference().Matches(value).Select(m => m.Groups[1].Value).ToList();

    /// <summary>
    /// The value of <paramref name="name"/> with references to earlier plain values substituted, and references to
    /// downward-API or secret values left as <c>$(NAME)</c>. Null if the variable is not set.
    /// </summary>
    public string? Literal(string name)
    {
        if (this[name] is not { } v || v.Value is null)
        {
            return null;
        }

        return Reference().Replace(v.Value, m =>
            this[m.Groups[1].Value] is { Value: not null } r && r.Index < v.Index ? Literal(r.Name) ?? m.Value : m.Value);
    }

    [GeneratedRegex(@"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex Reference();
}
