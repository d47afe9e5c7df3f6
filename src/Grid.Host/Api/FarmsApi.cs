using System.Collections.Immutable;
using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Grid.Ids;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

public static class FarmsApi
{
    public const double MaxCpuOvercommit = 16;

    public static RouteGroupBuilder MapFarmsApi(this RouteGroupBuilder api)
    {
        var farms = api.MapGroup("/farms").WithTags("Farms").RequireGridRole(GridPolicies.Farmer);
        farms.MapPost("/", CreateFarm).WithName("CreateFarm").WithSummary("Register a farm with its public IPv4 pool.");
        farms.MapGet("/", ListFarms).WithName("ListFarms").WithSummary("The caller's farms.");
        farms.MapGet("/{farmId:long}", GetFarm).WithName("GetFarm").WithSummary("One of the caller's farms.");
        return api;
    }

    public static async Task<Results<Created<FarmInfo>, ValidationProblem>> CreateFarm(
        CreateFarmRequest body, HttpContext http, IGrainFactory grains, IdGenerator ids)
    {
        var validation = new Validation();
        var name = validation.Name("name", body.Name);
        var ips = validation.PublicIps(body.PublicIps);
        var overcommit = body.CpuOvercommit ?? 1.0;
        if (!double.IsFinite(overcommit) || overcommit < 1 || overcommit > MaxCpuOvercommit)
        {
            validation.Add("cpuOvercommit", $"must be between 1 and {MaxCpuOvercommit}.");
        }

        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var twinId = TwinAuthentication.TwinId(http);
        var farmId = await ids.NextAsync(IdKind.Farm);
        var farm = await grains.GetGrain<ITwinGrain>(twinId)
            .CreateFarmAsync(farmId, new FarmSpec(name, body.Certification ?? FarmCertification.NotCertified, ips, overcommit));
        return TypedResults.Created($"/api/v1/farms/{farmId}", farm);
    }

    public static async Task<Ok<ImmutableArray<FarmInfo>>> ListFarms(HttpContext http, IGrainFactory grains)
    {
        var ids = await grains.GetGrain<ITwinGrain>(TwinAuthentication.TwinId(http)).GetFarmIdsAsync();
        var farms = await Task.WhenAll(ids.Select(id => grains.GetGrain<IFarmGrain>(id).GetAsync()));
        return TypedResults.Ok(farms.OfType<FarmInfo>().ToImmutableArray());
    }

    public static async Task<Results<Ok<FarmInfo>, ProblemHttpResult>> GetFarm(long farmId, HttpContext http, IGrainFactory grains)
    {
        var farm = await Ownership.FarmAsync(grains, farmId, TwinAuthentication.TwinId(http));
        return farm is null ? Problems.NotFound($"Farm {farmId}") : TypedResults.Ok(farm);
    }
}
