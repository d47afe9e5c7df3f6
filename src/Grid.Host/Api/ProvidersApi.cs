using System.Collections.Immutable;
using Grid.Billing;
using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

/// <summary>
/// Solution providers (as on tfchain): the operator approves a twin with a share; reservations created with it pay
/// it that share of the grid's part of every bill line.
/// </summary>
public static class ProvidersApi
{
    public static RouteGroupBuilder MapProvidersApi(this RouteGroupBuilder api)
    {
        var providers = api.MapGroup("/providers").WithTags("Providers");
        providers.MapPost("/", Approve).WithName("ApproveProvider")
            .WithSummary("Approve a solution provider: share (0 < share ≤ 0.5) of the grid's part of each bill line.")
            .RequireGridRole(GridPolicies.Operator);
        providers.MapGet("/", List).WithName("ListProviders").WithSummary("The approved solution providers.")
            .RequireGridRole(GridPolicies.Operator);
        providers.MapGet("/{twinId:long}/earnings", Earnings).WithName("ProviderEarnings")
            .WithSummary("What a solution provider earned (the provider itself, or the operator).").RequireGridRole(GridPolicies.Member);
        return api;
    }

    public static async Task<Results<Created<SolutionProvider>, ValidationProblem>> Approve(ApproveProviderRequest body, IGrainFactory grains)
    {
        var validation = new Validation();
        var twinId = validation.Amount("twinId", body.TwinId, 1, long.MaxValue, required: true);
        var sharePpm = body.Share is { } share ? ProviderCut.SharePpmOf(share) : null;
        if (sharePpm is null)
        {
            validation.Add("share", "must be more than 0 and at most 0.5 (at most 6 decimals).");
        }

        if (validation.IsValid && await grains.GetGrain<ITwinGrain>(twinId).GetAsync() is null)
        {
            validation.Add("twinId", $"twin {twinId} does not exist.");
        }

        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var provider = await grains.GetGrain<IProviderRegistryGrain>(0).ApproveAsync(twinId, sharePpm!.Value);
        return TypedResults.Created($"/api/v1/providers/{twinId}/earnings", provider);
    }

    public static async Task<Ok<ImmutableArray<SolutionProvider>>> List(IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IProviderRegistryGrain>(0).ListAsync());

    public static async Task<Results<Ok<ProviderEarnings>, ProblemHttpResult>> Earnings(
        long twinId, HttpContext http, EarningsIndex earnings, CancellationToken cancellationToken)
    {
        // The provider sees its own; the operator anyone's; another twin nothing (as if it did not exist).
        if (http.User.Id(GridClaims.TwinId) is { } caller && caller != twinId)
        {
            return Problems.NotFound($"Provider {twinId}");
        }

        return TypedResults.Ok(await earnings.GetProviderAsync(twinId, cancellationToken));
    }
}
