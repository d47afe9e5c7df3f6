using System.Collections.Immutable;
using Orleans.CodeGeneration;
using Orleans.Concurrency;

namespace Grid.Grains;

/// <summary>
/// The farms' own price lists (key 0). Few farms publish one and lists change rarely, so one grain holds them all
/// and every silo keeps a copy for the scheduler (<c>PriceBook</c>).
/// </summary>
[Alias("grid.IPriceListGrain")]
[Version(1)]
public interface IPriceListGrain : IGrainWithIntegerKey
{
    /// <summary>Publishes a farm's list (recorded in the ledger as <c>prices.changed</c>) and answers it with its version.</summary>
    [Alias("Set")]
    Task<FarmPriceList> SetAsync(long farmId, long ownerTwinId, PriceList prices);

    /// <summary>Every farm list and the version of the whole set, or null when <paramref name="knownVersion"/> is current.</summary>
    [Alias("GetIfChanged")]
    Task<PriceListSet?> GetIfChangedAsync(long knownVersion);
}

/// <summary>
/// Drives billing for its buckets (key: shard number): a reminder keeps it alive across silo restarts, a soft
/// timer looks for reservations due by grid time, and it remembers durably up to when it has billed.
/// </summary>
[Alias("grid.IBillingShardGrain")]
[Version(1)]
public interface IBillingShardGrain : IGrainWithIntegerKey
{
    /// <summary>Starts the shard (idempotent): registers its reminder.</summary>
    [Alias("Start")]
    Task StartAsync();

    /// <summary>Bills every reservation of the shard due by now (grid time); answers how many were asked.</summary>
    [Alias("Tick")]
    Task<int> TickAsync();
}

/// <summary>A bucket of reservation ids to bill (key: bucket number): durable membership, read by its shard.</summary>
[Alias("grid.IBillingBucketGrain")]
[Version(1)]
public interface IBillingBucketGrain : IGrainWithIntegerKey
{
    [Alias("Add")]
    Task AddAsync(long reservationId);

    /// <summary>Lists many reservations in one durable write (a bulk import of stored reservations).</summary>
    [Alias("AddMany")]
    Task AddManyAsync(ImmutableArray<long> reservationIds);

    /// <summary>
    /// Asks each reservation whose billing offset falls in <c>(from, to]</c> (cycle time) to bill what is due,
    /// and drops the ones that are done. Answers how many were asked and how many failed.
    /// </summary>
    [Alias("BillDue")]
    Task<(int Asked, int Failed)> BillDueAsync(DateTimeOffset from, DateTimeOffset to);

    [Alias("Count")]
    Task<int> CountAsync();
}

/// <summary>
/// A twin's billing chores (key: twin id): the reservations it has in grace, resumed when a deposit covers them,
/// and its withdrawals, one at a time so two cannot both pass the balance check.
/// </summary>
[Alias("grid.ITwinBillingGrain")]
[Version(1)]
public interface ITwinBillingGrain : IGrainWithIntegerKey
{
    /// <summary>Interleaves, like <see cref="RemoveGraceAsync"/>: the reservation may be the one a resume pass waits for.</summary>
    [Alias("AddGrace")]
    [AlwaysInterleave]
    Task AddGraceAsync(long reservationId);

    /// <summary>Interleaves: a reservation resumed by <see cref="ResumeAsync"/> calls back to be removed.</summary>
    [Alias("RemoveGrace")]
    [AlwaysInterleave]
    Task RemoveGraceAsync(long reservationId);

    /// <summary>Asks each reservation in grace to resume if the balance now covers it; answers how many resumed.</summary>
    [Alias("Resume")]
    Task<int> ResumeAsync();

    /// <summary>
    /// Records a withdrawal of <paramref name="amount"/> (ledger event <c>withdrawal:{twin}:{key}</c>) unless it
    /// would take the balance below zero (409); answers the account afterwards.
    /// </summary>
    [Alias("Withdraw")]
    Task<AccountInfo> WithdrawAsync(long amount, string key);
}
