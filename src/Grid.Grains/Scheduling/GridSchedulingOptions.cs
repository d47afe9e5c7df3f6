namespace Grid.Scheduling;

/// <summary>Preemption settings, bound from <c>Grid:Scheduling</c>. Must be equal on every silo.</summary>
public sealed class GridSchedulingOptions
{
    public const string Section = "Grid:Scheduling";

    /// <summary>
    /// How long a preempted workload has between SIGTERM and the kill; a preempted reservation is placed again only
    /// after it, so two copies never run. Default: 10 s.
    /// </summary>
    public TimeSpan PreemptionNotice { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Preemptions per minute, cluster-wide; a reservation that would need more is answered 409 naming the brake. Default: 30.</summary>
    public int MaxPreemptionsPerMinute { get; set; } = 30;

    /// <summary>Nodes whose allocations a preemption looks at, at most (the likeliest from the view). Default: 16.</summary>
    public int PreemptionCandidates { get; set; } = 16;
}
