namespace Grid.Storage;

/// <summary>Options of the Grid PostgreSQL setup installed by <see cref="GridPostgresSiloBuilderExtensions.UseGridPostgres"/>.</summary>
public sealed class GridPostgresOptions
{
    /// <summary>
    /// Whether the silo applies <see cref="PostgresSchema"/> before membership starts.
    /// Default: <see langword="true"/>. Turn it off only where a migration job owns the schema.
    /// </summary>
    public bool ApplySchemaOnStart { get; set; } = true;

    /// <summary>
    /// How long the silo keeps retrying while PostgreSQL is not reachable yet (a database pod that
    /// starts together with the silos). Default: 60 seconds.
    /// </summary>
    public TimeSpan SchemaRetryTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the readiness probe waits for <c>SELECT 1</c>. Default: 2 seconds.</summary>
    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(2);
}
