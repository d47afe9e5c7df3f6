using System.Collections.Immutable;
using Orleans.CodeGeneration;

namespace Grid.Grains;

/// <summary>A farm: its data, public IPv4 pool and node ids. Key: farm id.</summary>
[Alias("grid.IFarmGrain")]
[Version(1)]
public interface IFarmGrain : IGrainWithIntegerKey
{
    [Alias("Create")]
    Task<FarmInfo> CreateAsync(long twinId, FarmSpec spec);

    [Alias("Get")]
    Task<FarmInfo?> GetAsync();

    [Alias("AddNode")]
    Task AddNodeAsync(long nodeId);

    /// <summary>Grid time at which the last completed leak check (addresses no reservation holds) started; null before the first.</summary>
    [Alias("LastLeakCheck")]
    Task<DateTimeOffset?> GetLastLeakCheckAsync();

    /// <summary>
    /// Registers a node of this farm: lists it, then registers it with the farm's CPU overcommit. Idempotent, so a
    /// flow that failed half-way is completed by a retry on the same id.
    /// </summary>
    [Alias("RegisterNode")]
    Task<NodeInfo> RegisterNodeAsync(long nodeId, NodeRegistration registration);

    /// <summary>
    /// Hands <paramref name="count"/> free addresses to a reservation, or none when the pool is short.
    /// Idempotent per reservation: a repeated call returns what the reservation already holds, moved to the new epoch.
    /// </summary>
    [Alias("AllocateIps")]
    Task<ImmutableArray<FarmIp>?> AllocateIpsAsync(long reservationId, long epoch, int count);

    [Alias("ReleaseIps")]
    Task ReleaseIpsAsync(long reservationId, long epoch);

    [Alias("FreeIpCount")]
    Task<int> FreeIpCountAsync();
}
