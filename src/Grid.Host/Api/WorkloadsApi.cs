using System.Collections.Immutable;
using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Grid.Ids;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

public static class WorkloadsApi
{
    public const int MaxArgs = 256;
    public const int MaxEnv = 256;
    public const int MaxCommandLength = 4096;
    public const int DefaultLogLines = 200;
    public const int MaxLogLines = 10_000;

    public static RouteGroupBuilder MapWorkloadsApi(this RouteGroupBuilder api)
    {
        api.MapPost("/reservations/{reservationId:long}/workloads", DeployWorkload).WithTags("Workloads").WithName("DeployWorkload")
            .WithSummary("Deploy a workload inside a reservation; the workloads never exceed the reservation's resources.")
            .RequireGridRole(GridPolicies.Tenant);
        api.MapGet("/workloads/{workloadId:long}", GetWorkload).WithTags("Workloads").WithName("GetWorkload").RequireGridRole(GridPolicies.Tenant);
        api.MapGet("/workloads/{workloadId:long}/logs", GetLogs).WithTags("Workloads").WithName("GetWorkloadLogs")
            .WithSummary("The last `tail` lines (1-10000, default 200) of a workload's output, as text.")
            .RequireGridRole(GridPolicies.Tenant);
        api.MapDelete("/workloads/{workloadId:long}", DeleteWorkload).WithTags("Workloads").WithName("DeleteWorkload").RequireGridRole(GridPolicies.Tenant);
        return api;
    }

    public static async Task<Results<Created<WorkloadInfo>, ValidationProblem, ProblemHttpResult>> DeployWorkload(
        long reservationId, CreateWorkloadRequest body, HttpContext http, IGrainFactory grains, IdGenerator ids, TwinQuotas quotas)
    {
        var validation = new Validation();
        var name = validation.Name("name", body.Name);
        if (body.Type is null)
        {
            validation.Add("type", "is required: process, vm, zdb, container or volume.");
        }
        else if (body.Type == WorkloadType.Gateway)
        {
            validation.Add("type", "gateway workloads are replaced by names: claim one with POST /api/v1/names (it routes to your containers' published ports).");
        }

        var resources = body.Resources is null ? Capacity.Zero : validation.Resources("resources", body.Resources, forNode: false);
        var (container, auth) = ContainerValidation.Container(validation, body.Type, body.Container);
        var volume = ContainerValidation.Volume(validation, body.Type, body.Volume, body.Resources);
        if (volume is not null)
        {
            // A volume's size is what it takes of the reservation's SSD.
            resources = new Capacity(0, 0, volume.Size, 0);
        }

        if (resources.Ipv4 > 0)
        {
            validation.Add("resources.ipv4", "public IPs belong to the reservation, not to a workload.");
        }

        var process = Process(validation, body.Type, body.Process);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        if (await Ownership.ReservationAsync(grains, reservationId, TwinAuthentication.TwinId(http)) is not { } reservation)
        {
            return Problems.NotFound($"Reservation {reservationId}");
        }

        if (quotas.WorkloadRefusal(reservation) is { } refusal)
        {
            return TypedResults.Problem(title: "Quota exceeded", detail: refusal, statusCode: StatusCodes.Status409Conflict);
        }

        if (body.Type is WorkloadType.Container or WorkloadType.Volume && await MissingFeatureAsync(grains, reservation) is { } missing)
        {
            return missing;
        }

        var workloadId = await ids.NextAsync(IdKind.Workload);
        var workload = await grains.GetGrain<IReservationGrain>(reservationId)
            .AddWorkloadAsync(workloadId, new WorkloadSpec(name, body.Type!.Value, resources, process, container, volume), auth);
        return TypedResults.Created($"/api/v1/workloads/{workloadId}", workload);
    }

    public static async Task<Results<Ok<WorkloadInfo>, ProblemHttpResult>> GetWorkload(long workloadId, HttpContext http, IGrainFactory grains)
    {
        var workload = await Ownership.WorkloadAsync(grains, workloadId, TwinAuthentication.TwinId(http));
        return workload is null ? Problems.NotFound($"Workload {workloadId}") : TypedResults.Ok(workload);
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteWorkload(long workloadId, HttpContext http, IGrainFactory grains)
    {
        if (await Ownership.WorkloadAsync(grains, workloadId, TwinAuthentication.TwinId(http)) is not { } workload)
        {
            return Problems.NotFound($"Workload {workloadId}");
        }

        // The reservation deletes it, the way a cancel deletes all of its workloads.
        await grains.GetGrain<IReservationGrain>(workload.ReservationId).DeleteWorkloadAsync(workloadId);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Logs of a workload the caller owns, as text: the last <paramref name="tail"/> lines (1-10000, default 200) of
    /// the output its node reported, kept in memory by the controller.
    /// </summary>
    public static async Task<Results<ContentHttpResult, ValidationProblem, ProblemHttpResult>> GetLogs(
        long workloadId, int? tail, HttpContext http, IGrainFactory grains)
    {
        var validation = new Validation();
        var lines = (int)validation.Amount("tail", tail ?? DefaultLogLines, 1, MaxLogLines, required: false);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        if (await Ownership.WorkloadAsync(grains, workloadId, TwinAuthentication.TwinId(http)) is null)
        {
            return Problems.NotFound($"Workload {workloadId}");
        }

        return TypedResults.Text(await grains.GetGrain<IWorkloadGrain>(workloadId).GetLogsAsync(lines), "text/plain; charset=utf-8");
    }

    /// <summary>The 409 for a container or volume whose reservation's node cannot run containers; null when it can.</summary>
    private static async Task<ProblemHttpResult?> MissingFeatureAsync(IGrainFactory grains, ReservationInfo reservation)
    {
        if (reservation.NodeId is not { } nodeId || await grains.GetGrain<INodeGrain>(nodeId).GetAsync() is not { } node
            || node.Features.Contains(NodeFeatures.Container))
        {
            return null;
        }

        return Problems.Conflict("Node lacks a feature",
            $"Node {nodeId} of reservation {reservation.ReservationId} lacks the {NodeFeatures.Container} feature; reserve with "
            + $"\"constraints\": {{\"features\": [\"{NodeFeatures.Container}\"]}} to be placed on a node that has it.");
    }

    private static ProcessSpec? Process(Validation validation, WorkloadType? type, ProcessRequest? body)
    {
        if (type != WorkloadType.Process)
        {
            if (body is not null)
            {
                validation.Add("process", "is only for workloads of type process.");
            }

            return null;
        }

        if (body is null || string.IsNullOrWhiteSpace(body.Command))
        {
            validation.Add("process.command", "is required for a process workload.");
            return null;
        }

        if (body.Command.Length > MaxCommandLength || body.Command.Contains('\0', StringComparison.Ordinal))
        {
            validation.Add("process.command", $"must be at most {MaxCommandLength} characters without NUL.");
        }

        return new ProcessSpec(body.Command, Arguments(validation, "process.args", body.Args), Env(validation, "process.env", body.Env));
    }

    /// <summary>A command's arguments (a process's args, a container's entrypoint and args) within the limits.</summary>
    public static ImmutableArray<string> Arguments(Validation validation, string field, ImmutableArray<string>? value)
    {
        var args = value ?? [];
        if (args.Length > MaxArgs || args.Any(a => a is null || a.Length > MaxCommandLength || a.Contains('\0', StringComparison.Ordinal)))
        {
            validation.Add(field, $"at most {MaxArgs} arguments of at most {MaxCommandLength} characters.");
        }

        return args;
    }

    /// <summary>Environment variables within the limits.</summary>
    public static ImmutableDictionary<string, string> Env(Validation validation, string field, ImmutableDictionary<string, string>? value)
    {
        var env = value ?? ImmutableDictionary<string, string>.Empty;
        if (env.Count > MaxEnv || env.Any(e => e.Key.Length is 0 or > 256 || e.Key.Contains('=', StringComparison.Ordinal)
                || e.Key.Contains('\0', StringComparison.Ordinal) || e.Value is null || e.Value.Length > MaxCommandLength))
        {
            validation.Add(field, $"at most {MaxEnv} variables with names without '=' and values of at most {MaxCommandLength} characters.");
        }

        return env;
    }
}
