using System.Collections.Immutable;
using Grid.Grains;
using Grid.Ledger;
using Grid.Security;

namespace Grid.Twins;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.twin")]
public sealed class TwinState
{
    [Id(0)] public string Name { get; set; } = "";

    /// <summary>Hash of the key made with the twin; kept as key 1 "default" (twins created before named keys have only this).</summary>
    [Id(1)] public string ApiKeyHash { get; set; } = "";
    [Id(2)] public List<long> FarmIds { get; set; } = [];
    [Id(3)] public SortedSet<long> ReservationBuckets { get; set; } = [];
    [Id(4)] public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Keys added after the first (ids 2, 3, …) and the first one once it was revoked or listed with its roles.</summary>
    [Id(5)] public List<TwinKey> Keys { get; set; } = [];
    [Id(6)] public string? PublicKey { get; set; }
}

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.twin-key")]
public sealed class TwinKey
{
    [Id(0)] public long KeyId { get; set; }
    [Id(1)] public string Name { get; set; } = "";
    [Id(2)] public string Hash { get; set; } = "";
    [Id(3)] public List<string> Roles { get; set; } = [];
    [Id(4)] public DateTimeOffset CreatedAt { get; set; }
    [Id(5)] public DateTimeOffset? RevokedAt { get; set; }

    public ApiKeyInfo Info() => new(KeyId, Name, [.. Roles], CreatedAt, RevokedAt);
}

public sealed class TwinGrain(
    [PersistentState("twin", GridStorage.Name)] IPersistentState<TwinState> state,
    GridClock clock,
    LedgerRecorder ledger) : Grain, ITwinGrain
{
    public const int MaxKeys = 100;

    public async Task<TwinInfo> CreateAsync(string name, string apiKeyHash)
    {
        if (state.RecordExists)
        {
            throw new GridRequestException(409, "Twin exists", $"Twin {this.GetPrimaryKeyLong()} already exists.");
        }

        state.State = new TwinState { Name = name, ApiKeyHash = apiKeyHash, CreatedAt = clock.UtcNow };
        await state.WriteOrDeactivateAsync(this);
        await ledger.RecordAsync(LedgerEvents.TwinCreated(this.GetPrimaryKeyLong(), name));
        return Info();
    }

    public Task<TwinInfo?> GetAsync() => Task.FromResult(state.RecordExists ? Info() : null);

    public Task<ApiKeyMatch?> AuthenticateKeyAsync(string apiKeyHash)
    {
        var key = state.RecordExists ? Keys().FirstOrDefault(k => k.RevokedAt is null && KeyHash.FixedTimeEquals(k.Hash, apiKeyHash)) : null;
        return Task.FromResult(key is null ? null : new ApiKeyMatch(key.KeyId, [.. key.Roles]));
    }

    public async Task<ApiKeyInfo> AddKeyAsync(string name, string apiKeyHash, ImmutableArray<string> roles)
    {
        var keys = MaterializedKeys();
        if (keys.Count(k => k.RevokedAt is null) >= MaxKeys)
        {
            throw new GridRequestException(409, "Too many keys", $"A twin has at most {MaxKeys} live API keys; revoke one first.");
        }

        var key = new TwinKey
        {
            KeyId = keys.Max(k => k.KeyId) + 1,
            Name = name,
            Hash = apiKeyHash,
            Roles = [.. roles],
            CreatedAt = clock.UtcNow,
        };
        keys.Add(key);
        await state.WriteOrDeactivateAsync(this);
        return key.Info();
    }

    public Task<ImmutableArray<ApiKeyInfo>> ListKeysAsync() =>
        Task.FromResult(state.RecordExists ? Keys().Select(k => k.Info()).ToImmutableArray() : []);

    public async Task<bool> RevokeKeyAsync(long keyId)
    {
        if (!state.RecordExists || MaterializedKeys().FirstOrDefault(k => k.KeyId == keyId) is not { } key)
        {
            return false;
        }

        if (key.RevokedAt is null)
        {
            key.RevokedAt = clock.UtcNow;
            await state.WriteOrDeactivateAsync(this);
        }

        return true;
    }

    public async Task SetPublicKeyAsync(string? publicKey)
    {
        state.State.PublicKey = publicKey;
        await state.WriteOrDeactivateAsync(this);
    }

    public Task<string?> GetPublicKeyAsync() => Task.FromResult(state.RecordExists ? state.State.PublicKey : null);

    public async Task<FarmInfo> CreateFarmAsync(long farmId, FarmSpec spec)
    {
        // Listed first, so a failure before the farm's own write leaves at worst a listed id without a farm
        // (skipped when listing), never a farm its owner cannot list; a retry on the same id completes the flow.
        await AddFarmAsync(farmId);
        return await GrainFactory.GetGrain<IFarmGrain>(farmId).CreateAsync(this.GetPrimaryKeyLong(), spec);
    }

    public async Task AddFarmAsync(long farmId)
    {
        if (!state.State.FarmIds.Contains(farmId))
        {
            state.State.FarmIds.Add(farmId);
            await state.WriteOrDeactivateAsync(this);
        }
    }

    public Task<ImmutableArray<long>> GetFarmIdsAsync() => Task.FromResult(state.State.FarmIds.ToImmutableArray());

    public async Task AddReservationBucketAsync(long bucket)
    {
        if (state.State.ReservationBuckets.Add(bucket))
        {
            await state.WriteOrDeactivateAsync(this);
        }
    }

    public Task<ImmutableArray<long>> GetReservationBucketsAsync() =>
        Task.FromResult(state.State.ReservationBuckets.Reverse().ToImmutableArray());

    private TwinInfo Info() => new(this.GetPrimaryKeyLong(), state.State.Name, state.State.CreatedAt);

    /// <summary>The keys, with the twin's first key as key 1 when it is not stored in the list yet.</summary>
    private IEnumerable<TwinKey> Keys() =>
        state.State.Keys.Count > 0 || state.State.ApiKeyHash.Length == 0 ? state.State.Keys : [FirstKey()];

    /// <summary>The stored list, with the first key moved into it so it can be revoked like any other.</summary>
    private List<TwinKey> MaterializedKeys()
    {
        if (state.State.Keys.Count == 0 && state.State.ApiKeyHash.Length > 0)
        {
            state.State.Keys.Add(FirstKey());
        }

        return state.State.Keys;
    }

    private TwinKey FirstKey() => new()
    {
        KeyId = 1,
        Name = "default",
        Hash = state.State.ApiKeyHash,
        Roles = [.. GridRoles.TwinRoles],
        CreatedAt = state.State.CreatedAt,
    };
}
