using System.Collections.Immutable;
using Grid.Grains;

namespace Grid.Providers;

/// <summary>
/// The solution providers the operator approved (key 0). A reservation names one at creation and keeps the share it
/// had then (<see cref="ReservationRequest.SolutionProviderPpm"/>): a later change applies to new reservations.
/// </summary>
public sealed class ProviderRegistryGrain(
    [PersistentState("providers", GridStorage.Name)] IPersistentState<ProviderRegistryState> state,
    GridClock clock) : Grain, IProviderRegistryGrain
{
    public async Task<SolutionProvider> ApproveAsync(long twinId, int sharePpm)
    {
        if (state.State.Providers.TryGetValue(twinId, out var known) && known.SharePpm == sharePpm)
        {
            return known;
        }

        var provider = new SolutionProvider(twinId, sharePpm, clock.UtcNow);
        state.State.Providers[twinId] = provider;
        await state.WriteStateAsync();
        return provider;
    }

    public Task<SolutionProvider?> GetAsync(long twinId) => Task.FromResult(state.State.Providers.GetValueOrDefault(twinId));

    public Task<ImmutableArray<SolutionProvider>> ListAsync() =>
        Task.FromResult<ImmutableArray<SolutionProvider>>([.. state.State.Providers.Values.OrderBy(p => p.TwinId)]);
}

/// <summary>The approved providers by twin id.</summary>
[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.providers")]
public sealed class ProviderRegistryState
{
    [Id(0)] public Dictionary<long, SolutionProvider> Providers { get; set; } = [];
}
