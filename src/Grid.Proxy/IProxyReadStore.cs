namespace Grid.Proxy;

/// <summary>
/// Where the grid-proxy reads of twins, farms, public IPs, contracts, bills and consumption are answered: the in-memory fold of the
/// ledger (<see cref="MemoryProxyReadStore"/>, memory mode) or the PostgreSQL tables the projector keeps
/// (<see cref="PostgresProxyReadStore"/>, durable mode). Both answer the same filters, sorts and pages.
/// </summary>
public interface IProxyReadStore
{
    /// <summary>One page of the contracts <paramref name="filter"/> selects; the total only when the page asks for it.</summary>
    Task<ProxyPage<ContractRow>> ContractsAsync(ContractFilter filter, ProxyLimit limit, CancellationToken cancellationToken);

    Task<ContractRow?> ContractAsync(long contractId, CancellationToken cancellationToken);

    /// <summary>One page of a contract's bills, newest first.</summary>
    Task<ProxyPage<BillRow>> BillsAsync(long contractId, ProxyLimit limit, CancellationToken cancellationToken);

    /// <summary>One page of the twins, all or only <paramref name="twinId"/>, by twin id.</summary>
    Task<ProxyPage<TwinRow>> TwinsAsync(long? twinId, ProxyLimit limit, CancellationToken cancellationToken);

    /// <summary>A twin's live contracts that have been billed, with their latest bills, and every bill it was charged.</summary>
    Task<TwinBilling> BillingAsync(long twinId, CancellationToken cancellationToken);

    Task<ProxyTotals> TotalsAsync(CancellationToken cancellationToken);

    /// <summary>One page of the farms <paramref name="filter"/> selects, with their addresses; the total only when the page asks for it.</summary>
    Task<ProxyPage<FarmRow>> FarmsAsync(FarmFilter filter, ProxyLimit limit, CancellationToken cancellationToken);

    /// <summary>Every farm the ledger registered, with its addresses (what <see cref="FarmDirectory"/> keeps a copy of).</summary>
    Task<IReadOnlyList<FarmRow>> AllFarmsAsync(CancellationToken cancellationToken);

    /// <summary>One page of the farms' addresses <paramref name="filter"/> selects.</summary>
    Task<ProxyPage<PublicIpRow>> PublicIpsAsync(PublicIpFilter filter, ProxyLimit limit, CancellationToken cancellationToken);

    /// <summary>How many of the twin's contracts are deleted (cancelled).</summary>
    Task<int> DeletedContractsAsync(long twinId, CancellationToken cancellationToken);
}

/// <summary>The <c>/contracts</c> filters; <see cref="Unmatchable"/> when one can match no contract of ours; <see cref="Type"/> <c>node</c> or <c>rent</c>.</summary>
public sealed record ContractFilter(
    long? ContractId, long? TwinId, long? NodeId, string[]? States, long? PublicIps, long? FarmId, string? FarmName, bool Unmatchable, string? Type = null);

/// <summary>A page of rows and how many rows match in all (0 when the page did not ask for the count).</summary>
public sealed record ProxyPage<T>(IReadOnlyList<T> Items, long Total);

public sealed record ProxyTotals(long Twins, long Contracts);

/// <summary>A billed contract's last two bills (unix seconds), what the last-hour consumption is made of.</summary>
public sealed record LatestBills(long CreatedAt, int BillCount, long LastAmount, long LastAt, long? PreviousAt);

/// <summary>A twin's <see cref="LatestBills"/> per live contract and the sum of every bill it was charged (minor units).</summary>
public sealed record TwinBilling(IReadOnlyList<LatestBills> LiveContracts, long Overall);
