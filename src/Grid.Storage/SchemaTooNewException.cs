namespace Grid.Storage;

/// <summary>
/// The database's schema was written by a later release than this silo's: the silo does not start, and nothing in
/// the database was changed. Run the release that wrote the schema (or a later one); a downgrade below it needs a
/// restore of the database from before that release's first start.
/// </summary>
public sealed class SchemaTooNewException : Exception
{
    /// <summary>Says which number the database holds, which release wrote it and the newest number this silo knows.</summary>
    public SchemaTooNewException(int databaseNumber, string databaseScript, string databaseRelease, int newestKnown)
        : base($"The database's schema is at number {databaseNumber} ({databaseScript}, applied by release {databaseRelease}), "
            + $"newer than this silo (release {GridRelease.Version}) knows: its newest script is number {newestKnown}. "
            + $"Refusing to start, nothing was changed: run release {databaseRelease} or later against this database.")
    {
        DatabaseNumber = databaseNumber;
        DatabaseRelease = databaseRelease;
        NewestKnown = newestKnown;
    }

    /// <summary>The newest schema number in the database.</summary>
    public int DatabaseNumber { get; }

    /// <summary>The release that applied <see cref="DatabaseNumber"/>.</summary>
    public string DatabaseRelease { get; }

    /// <summary>The newest schema number this silo ships.</summary>
    public int NewestKnown { get; }
}
