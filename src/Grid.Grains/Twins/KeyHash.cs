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

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>The id a key claims to belong to, when it has the expected shape.</summary>
    public static bool TryParseId(string? key, string prefix, out long id)
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
