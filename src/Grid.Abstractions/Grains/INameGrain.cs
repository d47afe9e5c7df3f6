using System.Collections.Immutable;
using Orleans.CodeGeneration;

namespace Grid.Grains;

/// <summary>One gateway name, unique grid-wide because it is the key. Key: the name (lowercase).</summary>
[Alias("grid.INameGrain")]
[Version(1)]
public interface INameGrain : IGrainWithStringKey
{
    /// <summary>Claims the name for <paramref name="twinId"/>; 409 when it is held (also by the same twin).</summary>
    [Alias("Claim")]
    Task<NameInfo> ClaimAsync(long twinId, ImmutableArray<NameBackend> backends, NameHealthCheck healthCheck);

    /// <summary>The name while claimed, else null.</summary>
    [Alias("Get")]
    Task<NameInfo?> GetAsync();

    /// <summary>The name with each backend's state (<see cref="BackendState"/>) and reason, while claimed; else null.</summary>
    [Alias("GetStatus")]
    Task<NameInfo?> GetStatusAsync();

    /// <summary>Replaces backends and health check; null when the name is not held by <paramref name="twinId"/>.</summary>
    [Alias("Update")]
    Task<NameInfo?> UpdateAsync(long twinId, ImmutableArray<NameBackend> backends, NameHealthCheck healthCheck);

    /// <summary>
    /// Counts bytes gateway <paramref name="carrier"/> proxied for the name under its report <paramref name="sequence"/>:
    /// a sequence at or below the highest counted from that node is not counted again; traffic of a released name is dropped.
    /// The bytes wait for the name's next bill as a traffic line of that node (its farm's farmer earns the share).
    /// </summary>
    [Alias("AddTraffic")]
    Task AddTrafficAsync(TrafficCarrier carrier, long sequence, long bytesIn, long bytesOut);

    /// <summary>
    /// Bills each billing period of the claim that ended (periods run from the claim, one cycle each): the owner pays
    /// the name's hours and the traffic counted since the last bill. Run by the name's reminder; answers the bills made.
    /// </summary>
    [Alias("BillDue")]
    Task<ImmutableArray<Bill>> BillDueAsync();

    /// <summary>
    /// The recent bills of the name's last claim, newest first, when <paramref name="twinId"/> made it (also after its
    /// release, so the final bill can be read, until the name is claimed again); else null.
    /// </summary>
    [Alias("GetBills")]
    Task<ImmutableArray<Bill>?> GetBillsAsync(long twinId);

    /// <summary>Releases the name; false when it is not held by <paramref name="twinId"/>.</summary>
    [Alias("Release")]
    Task<bool> ReleaseAsync(long twinId);
}
