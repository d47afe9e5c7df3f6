namespace Grid.Billing;

/// <summary>
/// A solution provider's cut of a bill (tfchain pays the provider of a contract a share of what the grid keeps): per
/// line, floor(the grid's part × <see cref="SharePpm"/> / 10^6), taken from the grid's part; the farmer's part is untouched
/// and the remainder stays the grid's. Integer arithmetic only.
/// </summary>
/// <param name="TwinId">The provider paid.</param>
/// <param name="SharePpm">Its share of the grid's part, parts per million (at most half: 500,000).</param>
public readonly record struct ProviderCut(long TwinId, int SharePpm)
{
    public const int PartsPerMillion = 1_000_000;

    /// <summary>The highest share the operator may approve (tfchain caps solution providers at 50 %).</summary>
    public const int MaxSharePpm = PartsPerMillion / 2;

    /// <summary>The cut a reservation was created with, or null.</summary>
    public static ProviderCut? Of(ReservationRequest? request) =>
        request?.SolutionProvider is { } provider && request.SolutionProviderPpm > 0 ? new ProviderCut(provider, request.SolutionProviderPpm) : null;

    /// <summary>floor(<paramref name="gridPart"/> × share).</summary>
    public long PartOf(long gridPart) => (long)((Int128)gridPart * SharePpm / PartsPerMillion);

    /// <summary>
    /// A decimal share (0.1 = 10 %) in parts per million, or null when it is not in (0, 0.5] or finer than a millionth
    /// (converted once, before any money math).
    /// </summary>
    public static int? SharePpmOf(decimal share)
    {
        var ppm = share * PartsPerMillion;
        return share > 0 && ppm <= MaxSharePpm && ppm == decimal.Truncate(ppm) ? (int)ppm : null;
    }
}
