using Grid.Grains;
using Grid.Ids;
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
            .WithTags("Twins");
        return api;
    }

    public static async Task<Results<Created<TwinCreated>, ValidationProblem>> CreateTwin(
        CreateTwinRequest body, IGrainFactory grains, IdGenerator ids)
    {
        var validation = new Validation();
        var name = validation.Name("name", body.Name);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var twinId = await ids.NextAsync(IdKind.Twin);
        var apiKey = KeyHash.NewKey(KeyHash.TwinPrefix, twinId);
        await grains.GetGrain<ITwinGrain>(twinId).CreateAsync(name, KeyHash.Hash(apiKey));
        return TypedResults.Created($"/api/v1/twins/{twinId}", new TwinCreated(twinId, apiKey, name));
    }
}
