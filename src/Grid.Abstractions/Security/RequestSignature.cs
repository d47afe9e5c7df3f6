using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Grid.Security;

/// <summary>
/// Ed25519-signed HTTP requests, the alternative to a bearer key. The signer sends
/// <c>X-Grid-Signer: twin:42</c> (or <c>node:7</c>), <c>X-Grid-Time</c> (Unix seconds), <c>X-Grid-Nonce</c>,
/// <c>X-Grid-Content-Sha256</c> (hex SHA-256 of the body) and <c>X-Grid-Signature</c> (base64 Ed25519
/// signature of <see cref="Canonical"/>). The controller refuses signatures older than a minute and nonces it saw.
/// </summary>
public static class RequestSignature
{
    public const string SignerHeader = "X-Grid-Signer";
    public const string TimeHeader = "X-Grid-Time";
    public const string NonceHeader = "X-Grid-Nonce";
    public const string ContentHashHeader = "X-Grid-Content-Sha256";
    public const string SignatureHeader = "X-Grid-Signature";

    /// <summary>Longest nonce accepted; 16 random bytes in base64url take 22.</summary>
    public const int MaxNonceLength = 64;

    private static readonly SignatureAlgorithm s_ed25519 = SignatureAlgorithm.Ed25519;

    /// <summary>The text that is signed: every part of the request a replay or a tamperer could change.</summary>
    public static string Canonical(string method, string pathAndQuery, string bodySha256Hex, long unixSeconds, string nonce) =>
        string.Join('\n', "grid-v1", method.ToUpperInvariant(), pathAndQuery, bodySha256Hex,
            unixSeconds.ToString(CultureInfo.InvariantCulture), nonce);

    public static string BodyHash(ReadOnlySpan<byte> body) => Convert.ToHexStringLower(SHA256.HashData(body));

    /// <summary>A fresh key pair: the private key as base64 of its 32-byte seed, the public key as base64 of 32 bytes.</summary>
    public static (string PrivateKey, string PublicKey) NewKeyPair()
    {
        using var key = Key.Create(s_ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return (Convert.ToBase64String(key.Export(KeyBlobFormat.RawPrivateKey)), Convert.ToBase64String(key.PublicKey.Export(KeyBlobFormat.RawPublicKey)));
    }

    /// <summary>True when <paramref name="publicKey"/> is base64 of a valid 32-byte Ed25519 public key.</summary>
    public static bool IsPublicKey(string? publicKey) => TryImportPublicKey(publicKey, out _);

    /// <summary>The headers of a signed request (all but the signer, which the caller names).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Sign(
        string privateKey, string signer, string method, string pathAndQuery, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        using var key = ImportPrivateKey(privateKey);
        return Sign(key, signer, method, pathAndQuery, body, now);
    }

    /// <summary>
    /// A private key (base64 of its 32-byte seed, as <see cref="NewKeyPair"/> makes it) imported once, for a signer of many
    /// requests: importing derives the public key, which costs about as much as a signature.
    /// </summary>
    public static Key ImportPrivateKey(string privateKey) => Key.Import(s_ed25519, Convert.FromBase64String(privateKey), KeyBlobFormat.RawPrivateKey);

    /// <summary>The headers of a request signed with an imported <paramref name="key"/> (see <see cref="ImportPrivateKey"/>).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Sign(
        Key key, string signer, string method, string pathAndQuery, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(key);
        var hash = BodyHash(body);
        var time = now.ToUnixTimeSeconds();
        var nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var signature = s_ed25519.Sign(key, Encoding.UTF8.GetBytes(Canonical(method, pathAndQuery, hash, time, nonce)));
        return
        [
            new(SignerHeader, signer),
            new(TimeHeader, time.ToString(CultureInfo.InvariantCulture)),
            new(NonceHeader, nonce),
            new(ContentHashHeader, hash),
            new(SignatureHeader, Convert.ToBase64String(signature)),
        ];
    }

    /// <summary>Checks an Ed25519 signature of <paramref name="canonical"/>; false for any malformed input.</summary>
    public static bool Verify(string publicKey, string canonical, string signatureBase64) =>
        ImportPublicKey(publicKey) is { } key && Verify(key, canonical, signatureBase64);

    /// <summary>
    /// <see cref="Verify(string, string, string)"/> with a key imported once (<see cref="ImportPublicKey"/>), for a
    /// verifier of many requests: the signature is decoded on the stack and the text encoded into a pooled buffer.
    /// </summary>
    public static bool Verify(PublicKey publicKey, string canonical, string signatureBase64)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        Span<byte> signature = stackalloc byte[64];
        if (!Convert.TryFromBase64String(signatureBase64, signature, out var written) || written != 64)
        {
            return false;
        }

        var text = System.Buffers.ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(canonical.Length));
        try
        {
            var length = Encoding.UTF8.GetBytes(canonical, text);
            return s_ed25519.Verify(publicKey, text.AsSpan(0, length), signature);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(text);
        }
    }

    /// <summary>A registered public key (base64 of 32 bytes) imported for <see cref="Verify(PublicKey, string, string)"/>; null if it is not one.</summary>
    public static PublicKey? ImportPublicKey(string? publicKey) => TryImportPublicKey(publicKey, out var key) ? key : null;

    private static bool TryImportPublicKey(string? publicKey, out PublicKey? key)
    {
        key = null;
        var raw = new byte[32];
        return publicKey is { Length: <= 64 }
            && Convert.TryFromBase64String(publicKey, raw, out var written) && written == 32
            && PublicKey.TryImport(s_ed25519, raw, KeyBlobFormat.RawPublicKey, out key);
    }
}
