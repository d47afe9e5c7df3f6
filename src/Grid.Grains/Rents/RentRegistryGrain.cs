using System.Collections.Immutable;
using Grid.Grains;

namespace Grid.Rents;

/// <summary>Every current rent contract (key 0): a small list (rents are whole nodes), read by <c>GET /api/v1/rents</c>.</summary>
public sealed class RentRegistryGrain(
    [PersistentState("rents", GridStorage.Name)] IPersistentState<RentRegistryState> state) : Grain, IRentRegistryGrain
{
    public async Task AddAsync(RentContract contract)
    {
        if (state.State.Contracts.TryGetValue(contract.Id, out var known) && known == contract)
        {
            return;
        }

        state.State.Contracts[contract.Id] = contract;
        await state.WriteStateAsync();
    }

    public async Task RemoveAsync(long contractId)
    {
        if (state.State.Contracts.Remove(contractId))
        {
            await state.WriteStateAsync();
        }
    }

    public Task<ImmutableArray<RentContract>> ListAsync() =>
        Task.FromResult<ImmutableArray<RentContract>>([.. state.State.Contracts.Values.OrderBy(c => c.Id)]);
}

/// <summary>The current rent contracts by id.</summary>
[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.rents")]
public sealed class RentRegistryState
{
    [Id(0)] public Dictionary<long, RentContract> Contracts { get; set; } = [];
}
