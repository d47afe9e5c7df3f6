using System.Collections.Concurrent;
using Grid.Grains;
using Grid.Twins;

namespace Grid.Host.Api;

/// <summary>
/// Resolves <c>Authorization: Bearer &lt;apiKey&gt;</c> to a twin. A key names its twin, so checking it is one
/// grain call; verified hashes are remembered per silo (keys never change).
/// </summary>
public sealed class TwinAuthentication(IGrainFactory grains)
{
    private const string ItemKey = "grid.twinId";
    private readonly ConcurrentDictionary<string, long> _verified = new();

    public static long TwinId(HttpContext context) => (long)context.Items[ItemKey]!;

    public static string? BearerToken(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }

    public async ValueTask<long?> AuthenticateAsync(string? key)
    {
        if (!KeyHash.TryParseId(key, KeyHash.TwinPrefix, out var twinId))
        {
            return null;
        }

        var hash = KeyHash.Hash(key!);
        if (_verified.TryGetValue(hash, out var known))
        {
            return known;
        }

        if (!await grains.GetGrain<ITwinGrain>(twinId).VerifyKeyAsync(hash))
        {
            return null;
        }

        _verified[hash] = twinId;
        return twinId;
    }

    /// <summary>Endpoint filter for every twin-authenticated route.</summary>
    public static async ValueTask<object?> RequireTwin(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var auth = http.RequestServices.GetRequiredService<TwinAuthentication>();
        if (await auth.AuthenticateAsync(BearerToken(http)) is not { } twinId)
        {
            return Problems.Unauthorized("A valid twin API key is required: Authorization: Bearer <apiKey>.");
        }

        http.Items[ItemKey] = twinId;
        return await next(context);
    }
}
