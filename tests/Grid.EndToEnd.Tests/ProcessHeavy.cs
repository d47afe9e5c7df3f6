namespace Grid.EndToEnd.Tests;

/// <summary>
/// Tests that run several silo or agent processes at once share this collection, so they run one after another:
/// on a small machine two such tests side by side starve each other's processes past their generous deadlines.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ProcessHeavy
{
    public const string Name = "process-heavy";
}
