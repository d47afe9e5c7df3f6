using System.Collections.Immutable;
using Grid.Security;
using Microsoft.AspNetCore.Authorization;

namespace Grid.Host.Security;

/// <summary>
/// The access an endpoint declares: public, or the roles (any of) that may call it. Every endpoint carries one;
/// the access test enumerates the endpoints and fails on one that does not.
/// </summary>
public sealed record GridAccess(string Policy, ImmutableArray<string> Roles)
{
    public bool IsPublic => Roles.IsEmpty;
}

/// <summary>The authorization policies, one per set of roles an endpoint may name.</summary>
public static class GridPolicies
{
    public const string Public = "public";
    public const string Tenant = GridRoles.Tenant;
    public const string Farmer = GridRoles.Farmer;
    public const string Node = GridRoles.Node;
    public const string Operator = GridRoles.Operator;

    /// <summary>Any twin: a tenant or a farmer key, or the twin's signature.</summary>
    public const string Twin = "twin";

    /// <summary>Anyone who signed in as twin or operator (views of the controller itself).</summary>
    public const string Member = "member";

    /// <summary>A farmer (for the farmer's own things) or the operator (for anyone's): a node's quarantine.</summary>
    public const string FarmerOrOperator = "farmer-or-operator";

    public static readonly ImmutableDictionary<string, ImmutableArray<string>> Roles = new Dictionary<string, ImmutableArray<string>>
    {
        [Public] = [],
        [Tenant] = [GridRoles.Tenant],
        [Farmer] = [GridRoles.Farmer],
        [Node] = [GridRoles.Node],
        [Operator] = [GridRoles.Operator],
        [Twin] = [GridRoles.Tenant, GridRoles.Farmer],
        [Member] = [GridRoles.Tenant, GridRoles.Farmer, GridRoles.Operator],
        [FarmerOrOperator] = [GridRoles.Farmer, GridRoles.Operator],
    }.ToImmutableDictionary();

    public static void Add(AuthorizationOptions authorization)
    {
        foreach (var (name, roles) in Roles.Where(p => !p.Value.IsEmpty))
        {
            // No scheme named: the grid's is the only one and the default, which the authentication middleware has
            // already run. Naming it made every request authenticate a second time and merge the principal into a
            // copy of itself; challenges and refusals go to the default scheme, the same handler, either way.
            authorization.AddPolicy(name, policy => policy
                .RequireAuthenticatedUser()
                .RequireRole(roles));
        }
    }

    /// <summary>Only callers holding one of the policy's roles reach the endpoint(s).</summary>
    public static TBuilder RequireGridRole<TBuilder>(this TBuilder builder, string policy)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(policy).WithMetadata(new GridAccess(policy, Roles[policy]));

    /// <summary>Anyone, signed in or not, reaches the endpoint(s).</summary>
    public static TBuilder AllowPublic<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AllowAnonymous().WithMetadata(new GridAccess(Public, []));
}
