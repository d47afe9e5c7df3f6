using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Grid.Ids;
using Grid.Security;
using Grid.Twins;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

public static class TwinsApi
{
    public static RouteGroupBuilder MapTwinsApi(this RouteGroupBuilder api)
    {
        api.MapPost("/twins", CreateTwin)
            .WithName("CreateTwin")
            .WithSummary("Create a twin (identity); the API key is shown once, only its hash is stored.")
            .WithTags("Twins")
            .AllowPublic();
        return api;
    }

    public static async Task<Results<Created<TwinCreated>, ValidationProblem>> CreateTwin(
        CreateTwinRequest body, IGrainFactory grains, IdGenerator ids)
    {
        var validation = new Validation();
        var name = validation.Name("name", body.Name);
        if (body.PublicKey is not null && !RequestSignature.IsPublicKey(body.PublicKey))
        {
            validation.Add("publicKey", "must be the base64 of a 32-byte Ed25519 public key.");
        }

        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var twinId = await ids.NextAsync(IdKind.Twin);
        var apiKey = KeyHash.NewKey(KeyHash.TwinPrefix, twinId);
        var twin = grains.GetGrain<ITwinGrain>(twinId);
        await twin.CreateAsync(name, KeyHash.Hash(apiKey));
        if (body.PublicKey is not null)
        {
            await twin.SetPublicKeyAsync(body.PublicKey);
        }

        return TypedResults.Created($"/api/v1/twins/{twinId}", new TwinCreated(twinId, apiKey, name));
    }
}
