using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using Grid.Grains;
using Grid.Host.Api;
using Grid.Security;
using Grid.Twins;

namespace Grid.Host.Security;

/// <summary>
/// Looks up what proves a caller's identity: twin API keys, node keys and the Ed25519 public keys of twins and
/// nodes. Answers are cached per silo for <see cref="CacheFor"/>, so a revoked key or a replaced public key
/// stops working on every silo within that time (at once on the silo that changed it).
/// </summary>
public sealed class GridCredentials(IGrainFactory grains, NodeHeartbeats heartbeats, GridClock clock)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, (ApiKeyMatch? Match, long TwinId, ClaimsPrincipal? Principal, DateTimeOffset Until)> _apiKeys = new();
    private readonly ConcurrentDictionary<string, (SignerKey? Key, DateTimeOffset Until)> _publicKeys = new();

    /// <summary>
    /// The twin and key an API key belongs to, with the principal its requests carry, or null. The principal is made
    /// once per cached answer and shared by the requests that bring the key (nothing changes a principal after
    /// authentication): building its claims was most of what authenticating a request allocated.
    /// </summary>
    public async ValueTask<(long TwinId, ApiKeyMatch Match, ClaimsPrincipal Principal)?> TwinKeyAsync(string key)
    {
        if (!KeyHash.TryParseId(key, KeyHash.TwinPrefix, out var twinId))
        {
            return null;
        }

        var now = clock.UtcNow;
        if (!Cached(key, out var hash, out var known) || known.Until <= now)
        {
            var match = await grains.GetGrain<ITwinGrain>(twinId).AuthenticateKeyAsync(hash);
            known = (match, twinId, match is null ? null : ApiKeyPrincipal(twinId, match), now + CacheFor);

            // Only matches are cached: remembering every wrong key sent would let anyone grow the cache.
            if (known.Match is not null)
            {
                _apiKeys[hash] = known;
            }
        }

        return known is { Match: { } found, Principal: { } principal } ? (known.TwinId, found, principal) : null;
    }

    /// <summary>
    /// The cached answer for <paramref name="key"/>, looked up by its hash (<see cref="KeyHash.Hash"/>) computed on the
    /// stack; <paramref name="hash"/> is that hash, a string made only when nothing is cached (the grain is asked by it).
    /// </summary>
    private bool Cached(string key, out string hash, out (ApiKeyMatch? Match, long TwinId, ClaimsPrincipal? Principal, DateTimeOffset Until) known)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        Span<char> hex = stackalloc char[SHA256.HashSizeInBytes * 2];
        KeyHash.HashInto(key, digest);
        Convert.TryToHexStringLower(digest, hex, out _);
        if (_apiKeys.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(hex, out var stored, out known))
        {
            hash = stored;
            return true;
        }

        hash = new string(hex);
        return false;
    }

    /// <summary>Who a request with a twin's API key is: the key's roles, the twin and the key.</summary>
    private static ClaimsPrincipal ApiKeyPrincipal(long twinId, ApiKeyMatch match) =>
        GridClaims.Principal("apiKey", match.Roles, (GridClaims.TwinId, twinId), (GridClaims.KeyId, match.KeyId));

    public ValueTask<bool> NodeKeyAsync(long nodeId, string key) => heartbeats.VerifyKeyAsync(nodeId, key);

    /// <summary>
    /// The Ed25519 public key registered by <paramref name="signer"/> (<see cref="SignerKind.Name"/> of
    /// <paramref name="kind"/> and <paramref name="id"/>: <c>twin:42</c>, <c>node:7</c>), imported once per cached answer
    /// rather than decoded and imported for every request it signs.
    /// </summary>
    public async ValueTask<SignerKey?> PublicKeyAsync(string signer, string kind, long id)
    {
        var now = clock.UtcNow;
        if (_publicKeys.TryGetValue(signer, out var known) && known.Until > now)
        {
            return known.Key;
        }

        var text = kind == SignerKind.Twin
            ? await grains.GetGrain<ITwinGrain>(id).GetPublicKeyAsync()
            : await grains.GetGrain<INodeGrain>(id).GetPublicKeyAsync();
        var key = text is null ? null : new SignerKey(RequestSignature.ImportPublicKey(text));
        if (key is not null)
        {
            _publicKeys[signer] = (key, now + CacheFor);
        }

        return key;
    }

    /// <summary>Forgets this silo's cached answers for a twin's keys after they changed.</summary>
    public void Forget(long twinId)
    {
        _publicKeys.TryRemove(SignerKind.Name(SignerKind.Twin, twinId), out _);
        foreach (var entry in _apiKeys.Where(e => e.Value.TwinId == twinId))
        {
            _apiKeys.TryRemove(entry.Key, out _);
        }
    }

    /// <summary>False when <paramref name="signer"/> already used <paramref name="nonce"/> within the window, on any silo.</summary>
    public Task<bool> TryUseNonceAsync(string signer, string nonce, DateTimeOffset forgetAfter) =>
        grains.GetGrain<INonceGrain>(signer).TryUseAsync(nonce, forgetAfter);
}

/// <summary>Who signs a request: the prefix of <c>X-Grid-Signer</c>.</summary>
public static class SignerKind
{
    public const string Twin = "twin";
    public const string Node = "node";

    /// <summary>
    /// The signer as one spelling (<c>twin:42</c>), whatever the header said (<c>twin:042</c>): what its public key is
    /// cached and its nonces are remembered by. The header is not signed, so two spellings must be one signer.
    /// </summary>
    public static string Name(string kind, long id) => string.Create(CultureInfo.InvariantCulture, $"{kind}:{id}");
}

/// <summary>A signer's registered public key, imported (null if the registered text is not one: its signatures never verify).</summary>
public sealed record SignerKey(NSec.Cryptography.PublicKey? Imported);
