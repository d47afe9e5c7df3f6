using System.Collections.Immutable;
using Orleans.CodeGeneration;

namespace Grid.Grains;

/// <summary>
/// The grid's one route table (key 0): every claimed name with its destinations resolved from its backend workloads'
/// current endpoints, at a version that changes with it; gateway nodes sync it with their heartbeats and are woken
/// when it changes.
/// </summary>
[Alias("grid.IGatewayRoutesGrain")]
[Version(1)]
public interface IGatewayRoutesGrain : IGrainWithIntegerKey
{
    /// <summary>A name was claimed or updated (its grain's write is durable).</summary>
    [Alias("SetName")]
    Task SetNameAsync(NameDefinition name);

    /// <summary>A name's claim number <paramref name="claim"/> was released.</summary>
    [Alias("RemoveName")]
    Task RemoveNameAsync(string name, long claim);

    /// <summary>A workload with published ports changed (state, epoch or endpoints).</summary>
    [Alias("WorkloadChanged"), Orleans.Concurrency.OneWay]
    Task WorkloadChangedAsync(WorkloadInfo workload);

    /// <summary>
    /// A gateway node's heartbeat: registers it (to be woken on changes), keeps its health reports, and answers the
    /// table when its version differs from <paramref name="knownVersion"/> (else null).
    /// </summary>
    [Alias("Sync")]
    Task<GatewayRoutes?> SyncAsync(long nodeId, long knownVersion, ImmutableArray<DestinationHealth>? health);

    /// <summary>The names <paramref name="twinId"/> holds, by name.</summary>
    [Alias("List")]
    Task<ImmutableArray<NameDefinition>> ListAsync(long twinId);

    /// <summary>What gateways report of <paramref name="name"/>'s destinations: per destination id, one report (a healthy one if any gateway says so).</summary>
    [Alias("Health")]
    Task<ImmutableArray<DestinationHealth>> HealthAsync(string name);
}
