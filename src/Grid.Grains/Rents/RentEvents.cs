using System.Collections.Immutable;
using Grid.Billing;

namespace Grid.Rents;

/// <summary>The ledger entries of rent contracts (no money: their bills are <c>bill</c> entries with subject <c>rent:&lt;id&gt;</c>).</summary>
public static class RentEvents
{
    public const string Rented = LedgerKinds.NodeRented;
    public const string Released = LedgerKinds.NodeReleased;
    public const string CauseRenter = "renter";
    public const string CauseOperator = "operator";

    public static LedgerAppend RentedEntry(RentContract contract) =>
        new($"rent:{contract.Id}:rented", Rented, BillingEvents.Twin(contract.TwinId), $"node:{contract.NodeId}", null, [],
            BillingEvents.Details(new { contractId = contract.Id, contract.NodeId, contract.TwinId, contract.FarmId, contract.PricePerHour }));

    public static LedgerAppend ReleasedEntry(RentContract contract, string cause) =>
        new($"rent:{contract.Id}:released", Released,
            cause switch { CauseRenter => BillingEvents.Twin(contract.TwinId), CauseOperator => "operator", _ => "grid" },
            $"node:{contract.NodeId}", null, ImmutableArray<Posting>.Empty,
            BillingEvents.Details(new { contractId = contract.Id, contract.NodeId, contract.TwinId, cause }));
}
