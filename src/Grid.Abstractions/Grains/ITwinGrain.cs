using System.Collections.Immutable;
using Grid.Security;
using Orleans.CodeGeneration;

namespace Grid.Grains;

/// <summary>An identity (tenant, farmer): name, API key hash, what it owns. Key: twin id.</summary>
[Alias("grid.ITwinGrain")]
[Version(1)]
public interface ITwinGrain : IGrainWithIntegerKey
{
    [Alias("Create")]
    Task<TwinInfo> CreateAsync(string name, string apiKeyHash);

    [Alias("Get")]
    Task<TwinInfo?> GetAsync();

    /// <summary>The live (not revoked) key whose hash is <paramref name="apiKeyHash"/>, or null.</summary>
    [Alias("AuthenticateKey")]
    Task<ApiKeyMatch?> AuthenticateKeyAsync(string apiKeyHash);

    /// <summary>Adds a named key (stored as its hash) with the given roles.</summary>
    [Alias("AddKey")]
    Task<ApiKeyInfo> AddKeyAsync(string name, string apiKeyHash, ImmutableArray<string> roles);

    /// <summary>Every key of the twin, revoked ones included, oldest first.</summary>
    [Alias("ListKeys")]
    Task<ImmutableArray<ApiKeyInfo>> ListKeysAsync();

    /// <summary>Revokes a key; false when the twin has no such key.</summary>
    [Alias("RevokeKey")]
    Task<bool> RevokeKeyAsync(long keyId);

    /// <summary>Registers (or, with null, removes) the twin's Ed25519 public key for signed requests.</summary>
    [Alias("SetPublicKey")]
    Task SetPublicKeyAsync(string? publicKey);

    [Alias("GetPublicKey")]
    Task<string?> GetPublicKeyAsync();

    [Alias("AddFarm")]
    Task AddFarmAsync(long farmId);

    /// <summary>
    /// Registers a farm of this twin: lists it, then creates it. Idempotent, so a flow that failed half-way is
    /// completed by a retry on the same id.
    /// </summary>
    [Alias("CreateFarm")]
    Task<FarmInfo> CreateFarmAsync(long farmId, FarmSpec spec);

    [Alias("GetFarmIds")]
    Task<ImmutableArray<long>> GetFarmIdsAsync();

    /// <summary>Remembers that the twin has reservations in a bucket of <see cref="ITwinReservationsGrain"/>.</summary>
    [Alias("AddReservationBucket")]
    Task AddReservationBucketAsync(long bucket);

    /// <summary>The buckets holding the twin's reservation ids, newest first.</summary>
    [Alias("GetReservationBuckets")]
    Task<ImmutableArray<long>> GetReservationBucketsAsync();
}
