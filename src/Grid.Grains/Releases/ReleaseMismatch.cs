namespace Grid.Releases;

/// <summary>
/// Recognises a call that failed because silos of two releases meet during a rolling upgrade: a silo of the older
/// release cannot read a message that names a grain method or wire type it does not have (Orleans' serializer
/// throws <see cref="TypeLoadException"/> "Unable to resolve type alias …" there and sends it back to the caller), or
/// no active silo serves the interface version a caller asks for. Such a call succeeds once the upgrade has moved on
/// (the old silo replaced, the activation re-placed), so it is answered 503 with <c>Retry-After</c> and retried by
/// background work, never treated as a defect.
/// </summary>
public static class ReleaseMismatch
{
    // PlacementService's words when no active silo serves the interface version a call asks for.
    private const string NoCompatibleSilo = "No active nodes are compatible with grain";

    /// <summary>True when <paramref name="exception"/> (or one it wraps) is such a mismatch of releases.</summary>
    public static bool Is(Exception exception) => exception switch
    {
        TypeLoadException => true,
        OrleansException e when e.Message.Contains(NoCompatibleSilo, StringComparison.Ordinal) => true,
        AggregateException { InnerExceptions: var inner } => inner.Any(Is),
        _ => exception.InnerException is { } inner && Is(inner),
    };
}
