using System.Collections.Immutable;

namespace Grid.Security;

/// <summary>
/// Who may call what. A twin's API key carries tenant and/or farmer; a node agent is a node; the operator key
/// (configured on the controller) is the operator.
/// </summary>
public static class GridRoles
{
    public const string Tenant = "tenant";
    public const string Farmer = "farmer";
    public const string Node = "node";
    public const string Operator = "operator";

    /// <summary>Roles a twin's API key may carry.</summary>
    public static readonly ImmutableArray<string> TwinRoles = [Tenant, Farmer];
}

/// <summary>One of a twin's API keys as stored (hash only) and listed.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.api-key")]
public sealed record ApiKeyInfo(
    [property: Id(0)] long KeyId,
    [property: Id(1)] string Name,
    [property: Id(2)] ImmutableArray<string> Roles,
    [property: Id(3)] DateTimeOffset CreatedAt,
    [property: Id(4)] DateTimeOffset? RevokedAt);

/// <summary>The key a presented API key matched: its id and roles.</summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.api-key-match")]
public sealed record ApiKeyMatch([property: Id(0)] long KeyId, [property: Id(1)] ImmutableArray<string> Roles);
