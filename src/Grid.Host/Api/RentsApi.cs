using System.Collections.Immutable;
using Grid.Grains;
using Grid.Host.Security;
using Grid.Ids;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

/// <summary>
/// Rent contracts (dedicated nodes, tfchain ADR 0018): a tenant rents a whole node nobody else uses, at the grid's
/// dedicated discount; while rented only its reservations are placed there.
/// </summary>
public static class RentsApi
{
    public static RouteGroupBuilder MapRentsApi(this RouteGroupBuilder api)
    {
        var nodes = api.MapGroup("/nodes").WithTags("Rents");
        nodes.MapPost("/{nodeId:long}/rent", Rent).WithName("RentNode")
            .WithSummary("Rent a whole node (201 rent contract); 409 naming other twins' reservations on it, or its renter's contract.")
            .RequireGridRole(GridPolicies.Tenant);
        nodes.MapDelete("/{nodeId:long}/rent", Release).WithName("ReleaseNode")
            .WithSummary("End the node's rent (its renter, or the operator): a final bill, the node shared again.")
            .RequireGridRole(GridPolicies.Member);
        api.MapGet("/rents", List).WithName("ListRents").WithTags("Rents")
            .WithSummary("The caller's rent contracts (the operator: all).").RequireGridRole(GridPolicies.Member);
        return api;
    }

    public static async Task<Created<RentContract>> Rent(long nodeId, HttpContext http, IGrainFactory grains, IdGenerator ids)
    {
        var twinId = TwinAuthentication.TwinId(http);
        // Contract ids share the reservations' sequence, as tfchain's node and rent contracts share theirs.
        var contract = await grains.GetGrain<INodeRentGrain>(nodeId).RentAsync(twinId, await ids.NextAsync(IdKind.Reservation));
        return TypedResults.Created($"/api/v1/rents/{contract.Id}", contract);
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> Release(long nodeId, HttpContext http, IGrainFactory grains)
    {
        // A twin ends only its own rent (another's is answered as not found); the operator any.
        var twinId = http.User.Id(GridClaims.TwinId);
        return await grains.GetGrain<INodeRentGrain>(nodeId).ReleaseAsync(twinId)
            ? TypedResults.NoContent()
            : Problems.NotFound($"Rent of node {nodeId}");
    }

    public static async Task<Ok<ImmutableArray<RentContract>>> List(HttpContext http, IGrainFactory grains)
    {
        var twinId = http.User.Id(GridClaims.TwinId);
        var all = await grains.GetGrain<IRentRegistryGrain>(0).ListAsync();
        return TypedResults.Ok(twinId is { } twin ? [.. all.Where(c => c.TwinId == twin)] : all);
    }
}
