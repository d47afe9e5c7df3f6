using System.Collections.Immutable;
using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Grid.Security;
using Grid.Twins;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

/// <summary>A twin's API keys (named, several, revocable; stored hashed) and its Ed25519 public key.</summary>
public static class KeysApi
{
    public static RouteGroupBuilder MapKeysApi(this RouteGroupBuilder api)
    {
        var keys = api.MapGroup("/keys").WithTags("Keys").RequireGridRole(GridPolicies.Twin);
        keys.MapPost("/", CreateKey).WithName("CreateApiKey")
            .WithSummary("Add a named API key with some of the caller's roles; the key is shown once, only its hash is stored.");
        keys.MapGet("/", ListKeys).WithName("ListApiKeys").WithSummary("The twin's API keys (names, roles, revocation), never the keys.");
        keys.MapDelete("/{keyId:long}", RevokeKey).WithName("RevokeApiKey").WithSummary("Revoke one of the twin's API keys.");
        api.MapPut("/twins/me/public-key", SetPublicKey).WithTags("Keys").WithName("SetPublicKey")
            .WithSummary("Register the twin's Ed25519 public key (base64, 32 bytes) so it can sign requests; null removes it.")
            .RequireGridRole(GridPolicies.Twin);
        return api;
    }

    public static async Task<Results<Created<ApiKeyCreated>, ValidationProblem>> CreateKey(
        CreateApiKeyRequest body, HttpContext http, IGrainFactory grains, GridCredentials credentials)
    {
        var validation = new Validation();
        var name = validation.Name("name", body.Name);
        var held = http.User.TwinRoles().ToImmutableArray();
        var roles = body.Roles ?? held;
        if (roles.IsEmpty || roles.Length > GridRoles.TwinRoles.Length || roles.Any(r => !held.Contains(r)))
        {
            validation.Add("roles", $"must be some of the caller's own roles: {string.Join(", ", held)}.");
        }

        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var twinId = TwinAuthentication.TwinId(http);
        var apiKey = KeyHash.NewKey(KeyHash.TwinPrefix, twinId);
        var info = await grains.GetGrain<ITwinGrain>(twinId).AddKeyAsync(name, KeyHash.Hash(apiKey), [.. roles.Distinct()]);
        credentials.Forget(twinId);
        return TypedResults.Created($"/api/v1/keys/{info.KeyId}", new ApiKeyCreated(info.KeyId, info.Name, info.Roles, apiKey));
    }

    public static async Task<Ok<ImmutableArray<ApiKeyInfo>>> ListKeys(HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<ITwinGrain>(TwinAuthentication.TwinId(http)).ListKeysAsync());

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeKey(
        long keyId, HttpContext http, IGrainFactory grains, GridCredentials credentials)
    {
        var twinId = TwinAuthentication.TwinId(http);
        if (!await grains.GetGrain<ITwinGrain>(twinId).RevokeKeyAsync(keyId))
        {
            return Problems.NotFound($"API key {keyId}");
        }

        credentials.Forget(twinId);
        return TypedResults.NoContent();
    }

    public static async Task<Results<NoContent, ValidationProblem>> SetPublicKey(
        PublicKeyRequest body, HttpContext http, IGrainFactory grains, GridCredentials credentials)
    {
        if (body.PublicKey is not null && !RequestSignature.IsPublicKey(body.PublicKey))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["publicKey"] = ["must be the base64 of a 32-byte Ed25519 public key, or null to remove it."],
            });
        }

        var twinId = TwinAuthentication.TwinId(http);
        await grains.GetGrain<ITwinGrain>(twinId).SetPublicKeyAsync(body.PublicKey);
        credentials.Forget(twinId);
        return TypedResults.NoContent();
    }
}
