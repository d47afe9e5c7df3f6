using System.Collections.Immutable;

namespace Grid.Client;

// The answers of /api/v1 that are HTTP shapes only. Answers that are also grain wire records (NodeInfo, FarmInfo,
// ReservationInfo, WorkloadInfo, HeartbeatResponse, DesiredWorkloads, LedgerEntry, ...) live in Grid.Abstractions.

/// <summary>Answer of <c>POST /api/v1/twins</c>: the api key is shown only once.</summary>
public sealed record TwinCreated(long TwinId, string ApiKey, string Name);

/// <summary>Answer of <c>POST /api/v1/nodes</c>: the node key is shown only once.</summary>
public sealed record NodeCreated(long NodeId, string NodeKey, long FarmId, NodeStatus Status);

/// <summary>Answer of <c>POST /api/v1/keys</c>: the key is shown only once.</summary>
public sealed record ApiKeyCreated(long KeyId, string Name, ImmutableArray<string> Roles, string ApiKey);

/// <summary>A page of a listing.</summary>
public sealed record Page<T>(ImmutableArray<T> Items, int PageNumber, int Size, int Total);

/// <summary>One entry as the account sees it: <see cref="Posting"/> is what it posted to this account (minor units).</summary>
public sealed record AccountTransactionView(long Seq, DateTimeOffset At, string Kind, string EventId, string Actor, string Subject, long? Amount, long Posting, string Hash);

/// <summary>Answer of <c>GET /api/v1/account/transactions</c>.</summary>
public sealed record TransactionPage(IReadOnlyList<AccountTransactionView> Items, int Page, int Size);

/// <summary>A page of the ledger; <see cref="Next"/> is where the following page starts (poll it to follow the ledger).</summary>
public sealed record LedgerPage(IReadOnlyList<LedgerEntry> Entries, long Next);

/// <summary>The default and per-farm price lists.</summary>
public sealed record PricesInfo(string Currency, int CertifiedMarkupPercent, PriceList Default, ImmutableArray<FarmPriceList> Farms);

/// <summary>One silo of the cluster, as <c>GET /api/v1/cluster</c> lists it.</summary>
/// <param name="Address">The silo's address as Orleans writes it.</param>
/// <param name="Name">The silo's name.</param>
/// <param name="HostName">The machine (or pod) it runs on.</param>
/// <param name="Status">Its membership status in lower case (<c>active</c>, <c>dead</c>, …).</param>
/// <param name="StartedAt">When it started.</param>
/// <param name="Version">The release the silo runs (e.g. <c>0.3.0</c>); null for a silo that is not active or predates 0.3.0.</param>
public sealed record SiloInfo(string Address, string Name, string HostName, string Status, DateTimeOffset StartedAt, string? Version = null);
