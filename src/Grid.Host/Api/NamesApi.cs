using System.Collections.Immutable;
using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

/// <summary>
/// Gateway names: <c>&lt;name&gt;.&lt;Grid:Gateways:Domain&gt;</c> routed by every gateway node to the name's backends.
/// Another twin's name is 404 on every call but a claim (where it is 409: taken). A workload backend must be the
/// caller's workload (404 otherwise) and name one of its container's published ports: a port it does not publish is
/// 409, like the other rules that depend on what a workload is.
/// </summary>
public static class NamesApi
{
    public static RouteGroupBuilder MapNamesApi(this RouteGroupBuilder api)
    {
        var names = api.MapGroup("/names").WithTags("Names");
        names.MapPost("/", Create).WithName("CreateName")
            .WithSummary("Claim a gateway name (unique grid-wide) routed to workloads' published ports or fixed URLs.")
            .RequireGridRole(GridPolicies.Tenant);
        names.MapGet("/", List).WithName("ListNames").WithSummary("The caller's names.").RequireGridRole(GridPolicies.Tenant);
        names.MapGet("/{name}", Get).WithName("GetName")
            .WithSummary("A name with each backend's state (healthy, unhealthy, moving, not-running) and reason.")
            .RequireGridRole(GridPolicies.Tenant);
        names.MapPut("/{name}", Update).WithName("UpdateName").WithSummary("Replace a name's backends and health check.")
            .RequireGridRole(GridPolicies.Tenant);
        names.MapGet("/{name}/bills", GetBills).WithName("GetNameBills")
            .WithSummary("The bills of the caller's last claim of a name (also after its release), newest first: name lines (seconds held) and traffic lines (bytes per gateway node).")
            .RequireGridRole(GridPolicies.Tenant);
        names.MapDelete("/{name}", Release).WithName("ReleaseName").WithSummary("Release a name; anyone may claim it again.")
            .RequireGridRole(GridPolicies.Tenant);
        return api;
    }

    public static async Task<Results<Created<NameInfo>, ValidationProblem, ProblemHttpResult>> Create(
        CreateNameRequest body, HttpContext http, IGrainFactory grains)
    {
        var validation = new Validation();
        var name = NameValidation.Name(validation, body.Name);
        var backends = NameValidation.Backends(validation, body.Backends);
        var check = NameValidation.HealthCheck(validation, body.HealthCheck);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var twinId = TwinAuthentication.TwinId(http);
        if (await BackendProblemAsync(grains, twinId, backends) is { } problem)
        {
            return problem;
        }

        var created = await grains.GetGrain<INameGrain>(name).ClaimAsync(twinId, backends, check);
        return TypedResults.Created($"/api/v1/names/{name}", created);
    }

    public static async Task<Ok<ImmutableArray<NameInfo>>> List(HttpContext http, IGrainFactory grains)
    {
        var held = await grains.GetGrain<IGatewayRoutesGrain>(0).ListAsync(TwinAuthentication.TwinId(http));
        var twinId = TwinAuthentication.TwinId(http);

        // The route table lists them; each name's grain is the authority on what it is now.
        var infos = await Task.WhenAll(held.Select(n => grains.GetGrain<INameGrain>(n.Name).GetAsync()));
        return TypedResults.Ok<ImmutableArray<NameInfo>>([.. infos.OfType<NameInfo>().Where(n => n.TwinId == twinId)]);
    }

    public static async Task<Results<Ok<NameInfo>, ProblemHttpResult>> Get(string name, HttpContext http, IGrainFactory grains)
    {
        if (await OwnedAsync(grains, name, TwinAuthentication.TwinId(http)) is null)
        {
            return Problems.NotFound($"Name {name}");
        }

        return await grains.GetGrain<INameGrain>(name).GetStatusAsync() is { } status && status.TwinId == TwinAuthentication.TwinId(http)
            ? TypedResults.Ok(status)
            : Problems.NotFound($"Name {name}");
    }

    public static async Task<Results<Ok<NameInfo>, ValidationProblem, ProblemHttpResult>> Update(
        string name, UpdateNameRequest body, HttpContext http, IGrainFactory grains)
    {
        var validation = new Validation();
        var backends = NameValidation.Backends(validation, body.Backends);
        var check = NameValidation.HealthCheck(validation, body.HealthCheck);
        var twinId = TwinAuthentication.TwinId(http);
        if (await OwnedAsync(grains, name, twinId) is null)
        {
            return Problems.NotFound($"Name {name}");
        }

        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        if (await BackendProblemAsync(grains, twinId, backends) is { } problem)
        {
            return problem;
        }

        return await grains.GetGrain<INameGrain>(name).UpdateAsync(twinId, backends, check) is { } updated
            ? TypedResults.Ok(updated)
            : Problems.NotFound($"Name {name}");
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> Release(string name, HttpContext http, IGrainFactory grains) =>
        NameValidation.IsName(name) && await grains.GetGrain<INameGrain>(name).ReleaseAsync(TwinAuthentication.TwinId(http))
            ? TypedResults.NoContent()
            : Problems.NotFound($"Name {name}");

    public static async Task<Results<Ok<ImmutableArray<Bill>>, ProblemHttpResult>> GetBills(string name, HttpContext http, IGrainFactory grains) =>
        NameValidation.IsName(name) && await grains.GetGrain<INameGrain>(name).GetBillsAsync(TwinAuthentication.TwinId(http)) is { } bills
            ? TypedResults.Ok(bills)
            : Problems.NotFound($"Name {name}");

    /// <summary>The name if it is well-formed, claimed and the caller's; else null (a malformed name activates no grain).</summary>
    private static async Task<NameInfo?> OwnedAsync(IGrainFactory grains, string name, long twinId) =>
        NameValidation.IsName(name) && await grains.GetGrain<INameGrain>(name).GetAsync() is { } info && info.TwinId == twinId ? info : null;

    /// <summary>404 for a workload that is not the caller's; 409 for one that does not publish the named port.</summary>
    private static async Task<ProblemHttpResult?> BackendProblemAsync(IGrainFactory grains, long twinId, ImmutableArray<NameBackend> backends)
    {
        foreach (var backend in backends.Where(b => b.WorkloadId is not null))
        {
            var id = backend.WorkloadId!.Value;
            if (await Ownership.WorkloadAsync(grains, id, twinId) is not { State: not WorkloadState.Deleted } workload)
            {
                return Problems.NotFound($"Workload {id}");
            }

            if (workload.Spec.Container is not { } container || !container.Ports.Any(p => p.Name == backend.Port))
            {
                var published = workload.Spec.Container is { Ports.Length: > 0 } c ? string.Join(", ", c.Ports.Select(p => p.Name)) : "none";
                return Problems.Conflict("No such published port",
                    $"Workload {id} publishes no port named {backend.Port} (its published ports: {published}).");
            }
        }

        return null;
    }
}
