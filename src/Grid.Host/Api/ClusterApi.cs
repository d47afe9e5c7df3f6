using System.Collections.Immutable;
using Grid.Client;
using Grid.Host.Security;
using Grid.Releases;
using Microsoft.AspNetCore.Http.HttpResults;
using Orleans.Runtime;

namespace Grid.Host.Api;

public static class ClusterApi
{
    public static RouteGroupBuilder MapClusterApi(this RouteGroupBuilder api)
    {
        api.MapGet("/cluster", GetCluster).WithTags("Cluster").WithName("GetCluster")
            .WithSummary("The silos of the controller cluster, their status (active, dead, ...) and the release each runs.")
            .RequireGridRole(GridPolicies.Member);
        return api;
    }

    public static async Task<Ok<ImmutableArray<SiloInfo>>> GetCluster(IGrainFactory grains, ClusterReleases releases)
    {
        // Each silo's own release, from the manifest it shares with the cluster: in a rolling upgrade they differ.
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false);
        return TypedResults.Ok(hosts
            .OrderBy(h => h.StartTime)
            .Select(h => new SiloInfo(
                h.SiloAddress.ToParsableString(), h.SiloName, h.HostName, h.Status.ToString().ToLowerInvariant(), h.StartTime,
                releases.ReleaseOf(h.SiloAddress)))
            .ToImmutableArray());
    }
}
