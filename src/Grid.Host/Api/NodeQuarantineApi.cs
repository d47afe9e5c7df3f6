using Grid.Grains;
using Grid.Host.Security;
using Grid.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

/// <summary>
/// <c>DELETE /api/v1/nodes/{id}/quarantine</c>: the node's farmer (its farm's owner) or the operator ends a quarantine.
/// Another farmer's node looks missing (404), as everywhere in this API (<see cref="Ownership"/>), so ids cannot be probed.
/// </summary>
public static class NodeQuarantineApi
{
    public static async Task<Results<Ok<NodeInfo>, ProblemHttpResult>> Clear(long nodeId, HttpContext http, IGrainFactory grains)
    {
        var node = nodeId > 0 ? await grains.GetGrain<INodeGrain>(nodeId).GetAsync() : null;
        if (node is null || (!http.User.IsInRole(GridRoles.Operator) && !await IsFarmerOfAsync(grains, node, http.User.Id(GridClaims.TwinId))))
        {
            return Problems.NotFound($"Node {nodeId}");
        }

        return TypedResults.Ok((await grains.GetGrain<INodeGrain>(nodeId).ClearQuarantineAsync())!);
    }

    /// <summary>The farm's owner now (a farm's node is its farmer's), not only whoever registered the node.</summary>
    private static async Task<bool> IsFarmerOfAsync(IGrainFactory grains, NodeInfo node, long? twinId) =>
        twinId is { } twin && ((await grains.GetGrain<IFarmGrain>(node.FarmId).GetAsync())?.TwinId ?? node.TwinId) == twin;
}
