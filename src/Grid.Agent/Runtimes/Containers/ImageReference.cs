using System.Text.RegularExpressions;

namespace Grid.Agent.Runtimes.Containers;

/// <summary>
/// An image pinned by digest: a registry reference <c>host[:port]/repo@sha256:&lt;64 hex&gt;</c>, or an
/// <c>http(s)://</c> URL of an OCI image archive followed by <c>@sha256:</c> and the hash of the file.
/// </summary>
/// <param name="Source">The registry reference (with its digest) or the archive's URL (without it).</param>
/// <param name="Hex">The 64 hex digits of the digest, lower case: the key of the image in the node's cache.</param>
/// <param name="IsArchive">True for an archive URL, whose digest is the file's hash rather than the manifest's.</param>
internal sealed partial record ImageReference(string Source, string Hex, bool IsArchive)
{
    /// <summary>The digest as images show it: <c>sha256:&lt;hex&gt;</c>.</summary>
    public string Digest => $"sha256:{Hex}";

    /// <summary>The registry's host (and port), for the credentials file; null for an archive.</summary>
    public string? Registry => IsArchive ? null : Source[..Source.IndexOf('/', StringComparison.Ordinal)];

    /// <summary>Reads <paramref name="image"/>; null when it is not pinned by a well-formed sha256 digest.</summary>
    public static ImageReference? Parse(string? image)
    {
        if (string.IsNullOrWhiteSpace(image) || Pinned().Match(image.Trim()) is not { Success: true } match)
        {
            return null;
        }

        var hex = match.Groups["hex"].Value.ToLowerInvariant();
        var name = match.Groups["name"].Value;
        if (Uri.TryCreate(name, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps))
        {
            return new ImageReference(name, hex, IsArchive: true);
        }

        // host[:port]/repo: a registry host, then at least one path segment; no scheme, no spaces.
        return name.Contains("://", StringComparison.Ordinal) || !name.Contains('/', StringComparison.Ordinal) || name.Any(char.IsWhiteSpace)
            ? null
            : new ImageReference($"{name}@sha256:{hex}", hex, IsArchive: false);
    }

    [GeneratedRegex("^(?<name>.+)@sha256:(?<hex>[0-9a-fA-F]{64})\\z")]
    private static partial Regex Pinned();
}
