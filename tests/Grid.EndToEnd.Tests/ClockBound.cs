namespace Grid.EndToEnd.Tests;

/// <summary>
/// Tests whose length is set by real-time cycles they wait for (10 s billing cycles, a 15 s watch of a cluster, a
/// controller's restart), with deadlines of a minute, not by CPU: they run one after another in this collection,
/// beside the <see cref="ProcessHeavy"/> ones, and share one PostgreSQL server.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ClockBound : ICollectionFixture<SharedPostgres>
{
    public const string Name = "clock-bound";
}
