using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace Grid.Twins;

/// <summary>
/// Secrets (twin API keys, node keys) are stored only as SHA-256 hashes. A key embeds the id it belongs to
/// (<c>gt_42_…</c>, <c>gn_7_…</c>) so a request can be authenticated by one grain call without a global lookup.
/// </summary>
public static class KeyHash
{
    public const string TwinPrefix = "gt";
    public const string NodePrefix = "gn";

    public static string NewKey(string prefix, long id) =>
        $"{prefix}_{id}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24))}";

    public static string Hash(string key)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        HashInto(key, digest);
        return Convert.ToHexStringLower(digest);
    }

    /// <summary>
    /// The SHA-256 of <paramref name="key"/> (what <see cref="Hash"/> spells in hex) into <paramref name="digest"/>,
    /// without allocating for a key <see cref="TryParseId"/> admits (at most 200 characters): this runs for every
    /// authenticated request.
    /// </summary>
    public static void HashInto(string key, Span<byte> digest)
    {
        var most = Encoding.UTF8.GetMaxByteCount(key.Length);
        Span<byte> utf8 = most <= 1024 ? stackalloc byte[most] : new byte[most];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(key, utf8)], digest);
    }

    /// <summary>The id a key claims to belong to, when it has the expected shape.</summary>
    public static bool TryParseId([NotNullWhen(true)] string? key, string prefix, out long id)
    {
        id = 0;
        if (string.IsNullOrEmpty(key) || key.Length > 200 || !key.StartsWith(prefix + "_", StringComparison.Ordinal))
        {
            return false;
        }

        var rest = key.AsSpan(prefix.Length + 1);
        var end = rest.IndexOf('_');
        return end > 0 && long.TryParse(rest[..end], out id) && id > 0;
    }

    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b));
}
