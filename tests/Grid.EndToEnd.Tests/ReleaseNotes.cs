using System.Text.RegularExpressions;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// The releases <c>docs/CHANGELOG.md</c> lists, newest first: each <c>## X.Y.Z — …</c> section with the commit its
/// <c>Released as commit &lt;hash&gt;</c> line names (none while a release is still the tree being built).
/// </summary>
public static partial class ReleaseNotes
{
    public sealed record Release(string Version, string? Commit);

    public static IReadOnlyList<Release> Parse(string changelog)
    {
        var releases = new List<Release>();
        string? version = null;
        string? commit = null;
        foreach (var line in changelog.Split('\n'))
        {
            var heading = Heading().Match(line);
            if (heading.Success)
            {
                if (version is not null)
                {
                    releases.Add(new Release(version, commit));
                }

                (version, commit) = (heading.Groups[1].Value, null);
                continue;
            }

            var released = ReleasedAs().Match(line);
            if (version is not null && commit is null && released.Success)
            {
                commit = released.Groups[1].Value;
            }
        }

        if (version is not null)
        {
            releases.Add(new Release(version, commit));
        }

        return releases;
    }

    [GeneratedRegex(@"^## (\d+\.\d+\.\d+)\b")]
    private static partial Regex Heading();

    [GeneratedRegex(@"^Released as commit ([0-9a-f]{40})\b")]
    private static partial Regex ReleasedAs();
}
