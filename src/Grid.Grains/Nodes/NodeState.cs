namespace Grid.Nodes;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.node")]
public sealed class NodeState
{
    [Id(0)] public NodeRegistration? Registration { get; set; }
    [Id(1)] public double CpuOvercommit { get; set; } = 1.0;
    [Id(2)] public Dictionary<long, Allocation> Allocations { get; set; } = [];
    [Id(3)] public NodeStatus Status { get; set; } = NodeStatus.Down;
    [Id(4)] public bool Draining { get; set; }
    [Id(5)] public int DrainMaxParallel { get; set; } = 1;
    [Id(6)] public DateTimeOffset CreatedAt { get; set; }
    [Id(7)] public DateTimeOffset? StatusChangedAt { get; set; }

    /// <summary>Set when the node was declared down once: its next return is subject to the rejoin delay.</summary>
    [Id(8)] public bool HasBeenDown { get; set; }
    [Id(9)] public DateTimeOffset? RejoinAt { get; set; }

    /// <summary>The last heartbeat the down decision saw: where the meters of its reservations stop.</summary>
    [Id(10)] public DateTimeOffset? LastHeartbeatAtDown { get; set; }

    /// <summary>Counts activations, so summary versions (incarnation, then a counter) only grow whatever the clocks.</summary>
    [Id(20)] public long Incarnation { get; set; }
}
