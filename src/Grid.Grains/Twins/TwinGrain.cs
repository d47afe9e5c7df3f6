using System.Collections.Immutable;
using Grid.Grains;
using Grid.Ledger;
using Microsoft.Extensions.DependencyInjection;

namespace Grid.Twins;

[GenerateSerializer, Alias("grid.state.twin")]
public sealed class TwinState
{
    [Id(0)] public string Name { get; set; } = "";
    [Id(1)] public string ApiKeyHash { get; set; } = "";
    [Id(2)] public List<long> FarmIds { get; set; } = [];
    [Id(3)] public SortedSet<long> ReservationBuckets { get; set; } = [];
    [Id(4)] public DateTimeOffset CreatedAt { get; set; }
}

public sealed class TwinGrain(
    [PersistentState("twin", GridStorage.Name)] IPersistentState<TwinState> state,
    GridClock clock) : Grain, ITwinGrain
{
    public async Task<TwinInfo> CreateAsync(string name, string apiKeyHash)
    {
        if (state.RecordExists)
        {
            throw new GridRequestException(409, "Twin exists", $"Twin {this.GetPrimaryKeyLong()} already exists.");
        }

        state.State = new TwinState { Name = name, ApiKeyHash = apiKeyHash, CreatedAt = clock.UtcNow };
        await state.WriteOrDeactivateAsync(this);
        await ServiceProvider.GetRequiredService<LedgerRecorder>().RecordAsync(LedgerEvents.TwinCreated(this.GetPrimaryKeyLong(), name));
        return Info();
    }

    public Task<TwinInfo?> GetAsync() => Task.FromResult(state.RecordExists ? Info() : null);

    public Task<bool> VerifyKeyAsync(string apiKeyHash) =>
        Task.FromResult(state.RecordExists && KeyHash.FixedTimeEquals(state.State.ApiKeyHash, apiKeyHash));

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
}
