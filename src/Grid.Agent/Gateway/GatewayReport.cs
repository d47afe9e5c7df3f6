using System.Collections.Immutable;

namespace Grid.Agent.Gateway;

/// <summary>What a gateway adds to a heartbeat.</summary>
/// <param name="Address">Where names are reached on this node.</param>
/// <param name="Traffic">The unacknowledged traffic batch, if any.</param>
/// <param name="Health">Every destination's health, when it changed since the last delivered heartbeat.</param>
/// <param name="HealthVersion">The version <paramref name="Health"/> is at.</param>
internal sealed record GatewayReport(string? Address, TrafficBatch? Traffic, ImmutableArray<DestinationHealth>? Health, long HealthVersion)
{
    /// <summary><paramref name="heartbeat"/> with the gateway feature, address, traffic and health.</summary>
    public Heartbeat AddTo(Heartbeat heartbeat) => heartbeat with
    {
        Features = [.. (heartbeat.Features ?? []).Where(f => f != NodeFeatures.Gateway), NodeFeatures.Gateway],
        GatewayAddress = Address,
        Traffic = Traffic?.Traffic,
        TrafficSequence = Traffic?.Sequence ?? 0,
        Health = Health,
    };
}
