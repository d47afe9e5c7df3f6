namespace Grid.EndToEnd.Tests;

/// <summary>
/// Tests whose length is set by real-time waits (a 15 s watch of a cluster, a verifier's run over the ledger) more
/// than by CPU: they run one after another in this collection, beside the <see cref="ProcessHeavy"/> ones, and share
/// one PostgreSQL server. (Billing-failover and prepaid-agent tests were tried here too, but beside the process-heavy
/// ones under load a cluster's consistency check failed once: they stay in <see cref="ProcessHeavy"/>.)
/// </summary>
[CollectionDefinition(Name)]
public sealed class ClockBound : ICollectionFixture<SharedPostgres>
{
    public const string Name = "clock-bound";
}
