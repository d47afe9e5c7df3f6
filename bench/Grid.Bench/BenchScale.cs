namespace Grid.Bench;

/// <summary>Sizes of every scenario at one scale.</summary>
public sealed record BenchScale(
    string Name,
    int BaselineCalls,
    int[] PlacementNodes,
    int Placements,
    int HttpPlacements,
    int Concurrency,
    int FailoverNodes,
    int FailoverReservations,
    int FailoverShareReservationsPerNode,
    int HeartbeatNodes,
    TimeSpan HeartbeatDuration,
    int MemoryNodes,
    int MemoryReservations)
{
    /// <summary>Reservations billed in the one billing cycle of the <c>billing</c> scenario.</summary>
    public int BillingReservations { get; init; }

    /// <summary>Nodes those reservations are placed on.</summary>
    public int BillingNodes { get; init; }

    /// <summary>Ledger appends on PostgreSQL per measured case of the <c>billing</c> scenario.</summary>
    public int LedgerAppends { get; init; }

    public static BenchScale Of(string name) => name switch
    {
        "tiny" => new("tiny", 20_000, [100], 500, 200, 16, 50, 100, 5, 50, TimeSpan.FromSeconds(2), 200, 1_000)
        {
            BillingReservations = 1_000, BillingNodes = 100, LedgerAppends = 20_000,
        },
        "default" => new("default", 1_000_000, [1_000, 10_000], 50_000, 40_000, 64, 1_000, 1_000, 10, 2_000, TimeSpan.FromSeconds(10), 10_000, 100_000)
        {
            BillingReservations = 1_000_000, BillingNodes = 100_000, LedgerAppends = 100_000,
        },
        "large" => new("large", 3_000_000, [1_000, 10_000, 100_000], 200_000, 40_000, 128, 10_000, 1_000, 10, 10_000, TimeSpan.FromSeconds(20), 100_000, 1_000_000)
        {
            BillingReservations = 1_000_000, BillingNodes = 100_000, LedgerAppends = 200_000,
        },
        _ => throw new ArgumentException($"Unknown scale '{name}': tiny, default or large."),
    };
}
