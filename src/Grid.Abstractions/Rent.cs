using System.Collections.Immutable;

namespace Grid;

/// <summary>
/// A rent contract (tfchain ADR 0018): one twin holds a whole node; only its reservations are placed there, and the
/// node's whole capacity is billed at the grid's dedicated discount off the farm's prices, per second while it is up.
/// Its id comes from the reservations' id sequence (tfchain shares contract ids between node and rent contracts).
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.rent-contract")]
public sealed record RentContract(
    [property: Id(0)] long Id,
    [property: Id(1)] long NodeId,
    [property: Id(2)] long TwinId,
    [property: Id(3)] long FarmId,
    [property: Id(4)] DateTimeOffset CreatedAt,
    [property: Id(5)] long PricePerHour,
    [property: Id(6)] string Currency);

/// <summary>What a node answered to a change of its renter.</summary>
public enum RentLockOutcome
{
    /// <summary>The lock is now held by the asked twin (or was released, when releasing).</summary>
    Done,

    /// <summary>The node is not registered.</summary>
    NotFound,

    /// <summary>Another contract holds the node.</summary>
    RentedByOther,

    /// <summary>Other twins' reservations are on the node (<see cref="RentLockAnswer.ReservationIds"/> names them).</summary>
    OtherTwinsReservations,
}

/// <summary>
/// A node's answer to <c>SetRenter</c>: the outcome, the contract holding it (when another does), and reservation ids
/// — the other twins' that block a rent, or, when done, the renter's own reservations on the node (their billing changes).
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.rent-lock-answer")]
public sealed record RentLockAnswer(
    [property: Id(0)] RentLockOutcome Outcome,
    [property: Id(1)] long? RentContractId,
    [property: Id(2)] ImmutableArray<long> ReservationIds,
    [property: Id(3)] NodeSummary? Summary);

/// <summary>A solution provider the operator approved: it earns <see cref="SharePpm"/> of the grid's part of the bills of reservations created with it.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.solution-provider")]
public sealed record SolutionProvider(
    [property: Id(0)] long TwinId,
    [property: Id(1)] int SharePpm,
    [property: Id(2)] DateTimeOffset ApprovedAt)
{
    /// <summary>The share as a decimal (what the operator gave), for reading.</summary>
    public decimal Share => SharePpm / 1_000_000m;
}

/// <summary>What a solution provider earned: the sum of its parts of bills, and how many bills paid it.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.provider-earnings")]
public sealed record ProviderEarnings(
    [property: Id(0)] long TwinId,
    [property: Id(1)] long Amount,
    [property: Id(2)] long Bills,
    [property: Id(3)] string Currency);
