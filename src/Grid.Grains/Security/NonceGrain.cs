using Grid.Grains;

namespace Grid.Security;

/// <summary>
/// Remembers a signer's nonces in memory for the signature window. Losing them with the activation is safe
/// only while no activation is collected before its nonces expire, hence the collection age far above the
/// window; a silo crash can forget at most the last minute's nonces of its signers.
/// </summary>
[CollectionAgeLimit(Minutes = 5)]
public sealed class NonceGrain(GridClock clock) : Grain, INonceGrain
{
    /// <summary>Bound per signer so a flood of signed requests cannot grow one activation without limit.</summary>
    public const int MaxRemembered = 100_000;

    private readonly Dictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, DateTimeOffset> _expiry = new();

    public Task<bool> TryUseAsync(string nonce, DateTimeOffset forgetAfter)
    {
        var now = clock.UtcNow;
        while (_expiry.TryPeek(out var oldest, out var at) && at <= now)
        {
            _expiry.Dequeue();
            _seen.Remove(oldest);
        }

        if (_seen.ContainsKey(nonce) || _seen.Count >= MaxRemembered)
        {
            return Task.FromResult(false);
        }

        _seen[nonce] = forgetAfter;
        _expiry.Enqueue(nonce, forgetAfter);
        return Task.FromResult(true);
    }
}
