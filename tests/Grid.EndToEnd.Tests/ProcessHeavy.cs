namespace Grid.EndToEnd.Tests;

/// <summary>
/// Tests whose processes keep the CPU busy and whose checks are about timing under load (several silos under
/// create/cancel load, an agent's move measured in seconds) share this collection, so they run one after another:
/// on a small machine two such tests side by side starve each other's processes past their generous deadlines.
/// They share one PostgreSQL server.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ProcessHeavy : ICollectionFixture<SharedPostgres>
{
    public const string Name = "process-heavy";
}
