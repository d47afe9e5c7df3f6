using System.Collections.Immutable;

namespace Grid.Grains;

/// <summary>
/// The rent of one node (key: node id): its current contract, the meter of the node's whole capacity and the
/// contract's bills. The node grain holds the lock (<see cref="INodeGrain.SetRenterAsync"/>); this grain the money.
/// </summary>
[Alias("grid.INodeRentGrain")]
public interface INodeRentGrain : IGrainWithIntegerKey
{
    /// <summary>Rents the node to <paramref name="twinId"/> under <paramref name="contractId"/>; a 404/409 <see cref="GridRequestException"/> when it cannot be.</summary>
    [Alias("Rent")]
    Task<RentContract> RentAsync(long twinId, long contractId);

    /// <summary>
    /// Ends the rent (final bill, lock released); <paramref name="byTwinId"/> must be the renter unless null (the
    /// operator). False when the node is not rented (by that twin).
    /// </summary>
    [Alias("Release")]
    Task<bool> ReleaseAsync(long? byTwinId);

    [Alias("Get")]
    Task<RentContract?> GetAsync();

    /// <summary>The rent's bills, newest first.</summary>
    [Alias("GetBills")]
    Task<ImmutableArray<Bill>> GetBillsAsync();

    /// <summary>The node went up or down: the meter starts, or stops at <paramref name="at"/> (its last heartbeat).</summary>
    [Alias("NodeStatus")]
    Task NodeStatusAsync(bool up, DateTimeOffset at);
}

/// <summary>Every current rent contract (key 0), for <c>GET /api/v1/rents</c>: rents are few (whole nodes).</summary>
[Alias("grid.IRentRegistryGrain")]
public interface IRentRegistryGrain : IGrainWithIntegerKey
{
    [Alias("Add")]
    Task AddAsync(RentContract contract);

    [Alias("Remove")]
    Task RemoveAsync(long contractId);

    [Alias("List")]
    Task<ImmutableArray<RentContract>> ListAsync();
}

/// <summary>The solution providers the operator approved (key 0).</summary>
[Alias("grid.IProviderRegistryGrain")]
public interface IProviderRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Approves (or changes the share of) a provider.</summary>
    [Alias("Approve")]
    Task<SolutionProvider> ApproveAsync(long twinId, int sharePpm);

    [Alias("Get")]
    Task<SolutionProvider?> GetAsync(long twinId);

    [Alias("List")]
    Task<ImmutableArray<SolutionProvider>> ListAsync();
}
