using Grid.Grains;
using Grid.Host.Security;
using Grid.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

/// <summary><c>DELETE /api/v1/nodes/{id}/quarantine</c>: the node's farmer (its farm's owner) or the operator ends a quarantine.</summary>
public static class NodeQuarantineApi
{
    public static async Task<Results<Ok<NodeInfo>, ProblemHttpResult>> Clear(long nodeId, HttpContext http, IGrainFactory grains)
    {
        var node = nodeId > 0 ? await grains.GetGrain<INodeGrain>(nodeId).GetAsync() : null;
        if (node is null)
        {
            return Problems.NotFound($"Node {nodeId}");
        }

        if (!http.User.IsInRole(GridRoles.Operator))
        {
            // The farm's owner now (a farm's node is its farmer's), not only whoever registered it.
            var farm = await grains.GetGrain<IFarmGrain>(node.FarmId).GetAsync();
            var twinId = http.User.Id(GridClaims.TwinId);
            if (twinId is null || !http.User.IsInRole(GridRoles.Farmer) || (farm?.TwinId ?? node.TwinId) != twinId)
            {
                return Problems.Forbidden($"Only the farmer of farm {node.FarmId} or the operator may clear node {nodeId}'s quarantine.");
            }
        }

        return TypedResults.Ok((await grains.GetGrain<INodeGrain>(nodeId).ClearQuarantineAsync())!);
    }
}
