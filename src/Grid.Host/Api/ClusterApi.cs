using System.Collections.Immutable;
using Grid.Client;
using Grid.Host.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Orleans.Runtime;

namespace Grid.Host.Api;

public static class ClusterApi
{
    public static RouteGroupBuilder MapClusterApi(this RouteGroupBuilder api)
    {
        api.MapGet("/cluster", GetCluster).WithTags("Cluster").WithName("GetCluster")
            .WithSummary("The silos of the controller cluster and their status (active, dead, ...).")
            .RequireGridRole(GridPolicies.Member);
        return api;
    }

    public static async Task<Ok<ImmutableArray<SiloInfo>>> GetCluster(IGrainFactory grains)
    {
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false);
        return TypedResults.Ok(hosts
            .OrderBy(h => h.StartTime)
            .Select(h => new SiloInfo(
                h.SiloAddress.ToParsableString(), h.SiloName, h.HostName, h.Status.ToString().ToLowerInvariant(), h.StartTime))
            .ToImmutableArray());
    }
}
