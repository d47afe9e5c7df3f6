using Orleans.CodeGeneration;
namespace Grid.Grains;

/// <summary>
/// The nonces one signer (<c>twin:42</c>, <c>node:7</c>) used within the signature window. One activation per
/// signer in the whole cluster, so a replay sent to another silo is caught too. Key: the signer.
/// </summary>
[Alias("grid.INonceGrain")]
[Version(1)]
public interface INonceGrain : IGrainWithStringKey
{
    /// <summary>False when <paramref name="nonce"/> was already used; otherwise remembers it until <paramref name="forgetAfter"/>.</summary>
    [Alias("TryUse")]
    Task<bool> TryUseAsync(string nonce, DateTimeOffset forgetAfter);
}
