using System.Collections.Immutable;
using Grid.Grains;

namespace Grid.Billing;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.price-lists")]
public sealed class PriceListState
{
    [Id(0)] public long Version { get; set; }
    [Id(1)] public Dictionary<long, FarmPriceList> Farms { get; set; } = [];
}

/// <summary>The farms' own price lists (key 0). A change is recorded in the ledger before it is stored.</summary>
public sealed class PriceListGrain(
    [PersistentState("prices", GridStorage.Name)] IPersistentState<PriceListState> state,
    PriceBook book) : Grain, IPriceListGrain
{
    public async Task<FarmPriceList> SetAsync(long farmId, long ownerTwinId, PriceList prices)
    {
        var version = (state.State.Farms.TryGetValue(farmId, out var known) ? known.Version : 0) + 1;
        // Ledger first: a retry after a lost write reuses the same event id, so the ledger holds each change once.
        await GrainFactory.GetGrain<ILedgerGrain>(0).AppendAsync(BillingEvents.PricesChangedEntry(farmId, ownerTwinId, version, prices));
        var list = new FarmPriceList(farmId, prices, version);
        state.State.Farms[farmId] = list;
        state.State.Version++;
        await state.WriteOrDeactivateAsync(this);
        book.Apply(Snapshot());
        return list;
    }

    public Task<PriceListSet?> GetIfChangedAsync(long knownVersion) =>
        Task.FromResult(knownVersion == state.State.Version ? null : Snapshot());

    private PriceListSet Snapshot() => new(state.State.Version, [.. state.State.Farms.Values.OrderBy(f => f.FarmId)]);
}
