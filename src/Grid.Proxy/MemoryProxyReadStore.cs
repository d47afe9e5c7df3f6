namespace Grid.Proxy;

/// <summary>The reads answered from this silo's <see cref="ProxyReadModel"/> (memory mode): filter, sort and page in memory.</summary>
public sealed class MemoryProxyReadStore(ProxyReadModel readModel) : IProxyReadStore
{
    private static readonly IComparer<ContractRow> ById = Comparer<ContractRow>.Create((a, b) => a.ContractId.CompareTo(b.ContractId));
    private static readonly IComparer<TwinRow> TwinById = Comparer<TwinRow>.Create((a, b) => a.TwinId.CompareTo(b.TwinId));

    public Task<ProxyPage<ContractRow>> ContractsAsync(ContractFilter filter, ProxyLimit limit, CancellationToken cancellationToken)
    {
        var candidates = filter.ContractId is { } id
            ? (readModel.TryGetContract(id, out var one) ? [one] : [])
            : readModel.Contracts(filter.TwinId);
        var matching = candidates.Where(c =>
                !filter.Unmatchable
                && (filter.TwinId is null || c.TwinId == filter.TwinId)
                && (filter.NodeId is null || c.NodeId == filter.NodeId)
                && (filter.States is null || filter.States.Contains(c.State))
                && (filter.PublicIps is null || c.PublicIps >= filter.PublicIps)
                && (filter.Type is null || c.Type == filter.Type)
                && (filter.FarmId is null || c.FarmId == filter.FarmId)
                && (filter.FarmName is null || readModel.FarmName(c.FarmId).Equals(filter.FarmName, StringComparison.OrdinalIgnoreCase)))
            .ToList();
        return Task.FromResult(new ProxyPage<ContractRow>(limit.Apply(matching, ComparerFor, ById), matching.Count));
    }

    public Task<ContractRow?> ContractAsync(long contractId, CancellationToken cancellationToken) =>
        Task.FromResult(readModel.TryGetContract(contractId, out var contract) ? contract : null);

    public Task<ProxyPage<BillRow>> BillsAsync(long contractId, ProxyLimit limit, CancellationToken cancellationToken)
    {
        var bills = readModel.Bills(contractId);
        return Task.FromResult(new ProxyPage<BillRow>([.. bills.Skip(limit.Skip).Take(limit.Size)], bills.Length));
    }

    public Task<ProxyPage<TwinRow>> TwinsAsync(long? twinId, ProxyLimit limit, CancellationToken cancellationToken)
    {
        var matching = readModel.Twins().Where(t => twinId is null || t.TwinId == twinId).ToList();
        return Task.FromResult(new ProxyPage<TwinRow>(limit.Apply(matching, _ => TwinById, TwinById), matching.Count));
    }

    public Task<TwinBilling> BillingAsync(long twinId, CancellationToken cancellationToken)
    {
        long overall = 0;
        var live = new List<LatestBills>();
        foreach (var contract in readModel.Contracts(twinId))
        {
            var bills = readModel.Bills(contract.ContractId);
            overall += bills.Sum(b => b.Amount);
            if (contract.State != ProxyReadModel.Deleted && bills.Length > 0)
            {
                live.Add(new LatestBills(contract.CreatedAt, bills.Length, bills[0].Amount, bills[0].Timestamp, bills.Length > 1 ? bills[1].Timestamp : null));
            }
        }

        return Task.FromResult(new TwinBilling(live, overall));
    }

    public Task<ProxyTotals> TotalsAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new ProxyTotals(readModel.TwinCount, readModel.ContractCount));

    public Task<ProxyPage<FarmRow>> FarmsAsync(FarmFilter filter, ProxyLimit limit, CancellationToken cancellationToken)
    {
        var matching = readModel.Farms().Where(filter.Matches).ToList();
        return Task.FromResult(new ProxyPage<FarmRow>(limit.Apply(matching, FarmOrder.For, FarmOrder.ById), matching.Count));
    }

    public Task<IReadOnlyList<FarmRow>> AllFarmsAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<FarmRow>>(readModel.Farms());

    public Task<ProxyPage<PublicIpRow>> PublicIpsAsync(PublicIpFilter filter, ProxyLimit limit, CancellationToken cancellationToken)
    {
        var matching = readModel.Farms().SelectMany(f => f.PublicIps).Where(filter.Matches).ToList();
        return Task.FromResult(new ProxyPage<PublicIpRow>(limit.Apply(matching, FarmOrder.IpsFor, FarmOrder.IpById), matching.Count));
    }

    public Task<int> DeletedContractsAsync(long twinId, CancellationToken cancellationToken) =>
        Task.FromResult(readModel.Contracts(twinId).Count(c => c.State == ProxyReadModel.Deleted));

    private static IComparer<ContractRow> ComparerFor(string sortBy)
    {
        if (sortBy is "state" or "type")
        {
            // As the grid proxy's ORDER BY state (or type): by the name.
            Func<ContractRow, string> name = sortBy == "state" ? c => c.State : c => c.Type;
            return Comparer<ContractRow>.Create((a, b) => string.CompareOrdinal(name(a), name(b)) is var c && c != 0 ? c : ById.Compare(a, b));
        }

        Func<ContractRow, long> key = sortBy switch
        {
            "twin_id" => c => c.TwinId,
            "created_at" => c => c.CreatedAt,
            _ => c => c.ContractId,
        };
        return Comparer<ContractRow>.Create((a, b) => key(a).CompareTo(key(b)) is var c && c != 0 ? c : ById.Compare(a, b));
    }
}
