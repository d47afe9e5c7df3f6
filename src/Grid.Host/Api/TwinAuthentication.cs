using Grid.Host.Security;

namespace Grid.Host.Api;

/// <summary>
/// What handlers read about the caller. Authentication itself is ASP.NET Core's: <see cref="GridAuthenticationHandler"/>
/// turns credentials into claims and each endpoint declares the roles it needs (<see cref="GridPolicies"/>).
/// </summary>
public static class TwinAuthentication
{
    /// <summary>The calling twin; only for endpoints whose policy admits twins alone.</summary>
    public static long TwinId(HttpContext context) =>
        context.User.Id(GridClaims.TwinId) ?? throw new InvalidOperationException("The endpoint does not require a twin.");

    public static string? BearerToken(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }
}
