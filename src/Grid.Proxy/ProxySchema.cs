using Grid.Storage;

namespace Grid.Proxy;

/// <summary>
/// The read model's PostgreSQL tables (<c>Sql/*.sql</c> beside this project's statements), applied together with the
/// grid's schema: by the silo when the host registers them (<see cref="ProxyHostExtensions.AddGridProxy"/>), or by a
/// caller passing them to <see cref="PostgresSchema.ApplyAsync(string, IEnumerable{SchemaScript}, CancellationToken)"/>.
/// </summary>
public static class ProxySchema
{
    private static readonly Lazy<IReadOnlyList<SchemaScript>> Loaded =
        new(() => PostgresSchema.Embedded(typeof(ProxySchema).Assembly, "Grid.Proxy.Sql."));

    /// <summary>The read model's scripts, in name order.</summary>
    public static IReadOnlyList<SchemaScript> Scripts => Loaded.Value;
}
