using System.Globalization;
using System.Security.Claims;
using Grid.Security;

namespace Grid.Host.Security;

/// <summary>Claims the grid's authentication handler issues, and how handlers read them.</summary>
public static class GridClaims
{
    public const string TwinId = "grid:twin";
    public const string NodeId = "grid:node";
    public const string KeyId = "grid:key";

    /// <summary>How the caller proved who it is: <c>apiKey</c>, <c>nodeKey</c>, <c>operatorKey</c> or <c>signature</c>.</summary>
    public const string Method = "grid:auth";

    public static ClaimsPrincipal Principal(string method, IEnumerable<string> roles, params (string Type, long Value)[] ids)
    {
        // Built for every authenticated request: without LINQ, and each claim made with the identity as its subject
        // (an identity copies every claim it is given that names another subject, or none).
        var identity = new ClaimsIdentity(GridAuthenticationHandler.SchemeName, ClaimTypes.Name, ClaimTypes.Role);
        identity.AddClaim(Claim(identity, Method, method));
        foreach (var role in roles)
        {
            identity.AddClaim(Claim(identity, ClaimTypes.Role, role));
        }

        foreach (var (type, value) in ids)
        {
            identity.AddClaim(Claim(identity, type, value.ToString(CultureInfo.InvariantCulture)));
        }

        return new GridPrincipal(identity, ids);
    }

    private static Claim Claim(ClaimsIdentity subject, string type, string value) =>
        new(type, value, ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, subject);

    /// <summary>The id claim <paramref name="type"/> of the caller (twin, node, key), or null.</summary>
    public static long? Id(this ClaimsPrincipal user, string type) =>
        user is GridPrincipal grid ? grid.Id(type)
        : long.TryParse(user.FindFirst(type)?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : null;

    /// <summary>The roles of the caller that a twin's key may carry.</summary>
    public static IEnumerable<string> TwinRoles(this ClaimsPrincipal user) => GridRoles.TwinRoles.Where(user.IsInRole);
}

/// <summary>
/// The principal the grid's handler issues: its claims, plus the ids they carry as numbers, so the rate limiter and
/// the endpoints read the caller's twin or node without searching the claims and parsing them on every request.
/// </summary>
internal sealed class GridPrincipal(ClaimsIdentity identity, (string Type, long Value)[] ids) : ClaimsPrincipal(identity)
{
    public long? Id(string type)
    {
        foreach (var (known, value) in ids)
        {
            if (known == type)
            {
                return value;
            }
        }

        return null;
    }
}
