using System.Collections.Immutable;
using Grid.Client;
using Grid.Grains;
using Grid.Host.Security;
using Grid.Ids;
using Grid.Security;
using Grid.Twins;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Api;

public static class NodesApi
{
    public const int MaxDrainParallel = 100;
    public const int MaxReportedWorkloads = 10_000;
    public const int MaxDesiredWaitMs = 20_000;
    public const int MaxFeatures = 8;
    public const int MaxLogsPerReport = 64 * 1024;

    public static RouteGroupBuilder MapNodesApi(this RouteGroupBuilder api)
    {
        var nodes = api.MapGroup("/nodes").WithTags("Nodes");
        nodes.MapPost("/", RegisterNode).WithName("RegisterNode").WithSummary("Register a node in one of the caller's farms.")
            .RequireGridRole(GridPolicies.Farmer);
        nodes.MapGet("/", ListNodes).WithName("ListNodes").WithSummary("The nodes of the caller's farms.")
            .RequireGridRole(GridPolicies.Farmer);
        nodes.MapGet("/{nodeId:long}", GetNode).WithName("GetNode").WithSummary("Owner's view of a node: status, resources, allocations.")
            .RequireGridRole(GridPolicies.Farmer);
        nodes.MapPost("/{nodeId:long}/drain", StartDrain).WithName("DrainNode")
            .WithSummary("Stop new placements and move the node's reservations make-before-break, maxParallel at a time.")
            .RequireGridRole(GridPolicies.Farmer);
        nodes.MapDelete("/{nodeId:long}/drain", EndDrain).WithName("UndrainNode").WithSummary("End a drain.")
            .RequireGridRole(GridPolicies.Farmer);
        nodes.MapDelete("/{nodeId:long}/quarantine", NodeQuarantineApi.Clear).WithName("ClearNodeQuarantine")
            .WithSummary("End a node's quarantine (its farmer or the operator): it takes new placements again.")
            .RequireGridRole(GridPolicies.FarmerOrOperator);
        nodes.MapPost("/{nodeId:long}/heartbeat", Heartbeat).WithName("NodeHeartbeat").Accepts<HeartbeatRequest>("application/json")
            .WithSummary("Node agent heartbeat, signed with the node's Ed25519 key (or Bearer node key); answers the workloads the node should run.")
            .RequireGridRole(GridPolicies.Node);
        nodes.MapGet("/{nodeId:long}/desired", WatchDesired).WithName("WatchNodeDesired")
            .WithSummary("Node agent long-poll: the desired workloads once their version differs from `version`, or after `waitMs` (at most 20 s).")
            .RequireGridRole(GridPolicies.Node);
        return api;
    }

    public static async Task<Results<Created<NodeCreated>, ValidationProblem, ProblemHttpResult>> RegisterNode(
        CreateNodeRequest body, HttpContext http, IGrainFactory grains, IdGenerator ids)
    {
        var validation = new Validation();
        var farmId = validation.Amount("farmId", body.FarmId, 1, long.MaxValue, required: true);
        var resources = validation.Resources("resources", body.Resources, forNode: true);
        var country = validation.Name("location.country", body.Location?.Country);
        var city = validation.OptionalName("location.city", body.Location?.City) ?? "";
        var coordinates = validation.Coordinates("location.", body.Location?.Latitude, body.Location?.Longitude);
        var gpus = validation.Gpus("gpus", body.Gpus);
        if (body.PublicKey is not null && !RequestSignature.IsPublicKey(body.PublicKey))
        {
            validation.Add("publicKey", "must be the base64 of a 32-byte Ed25519 public key (the agent's heartbeat signing key).");
        }

        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var twinId = TwinAuthentication.TwinId(http);
        if (await Ownership.FarmAsync(grains, farmId, twinId) is null)
        {
            return Problems.NotFound($"Farm {farmId}");
        }

        var nodeId = await ids.NextAsync(IdKind.Node);
        var nodeKey = KeyHash.NewKey(KeyHash.NodePrefix, nodeId);
        var location = new Location(country, city) { Latitude = coordinates?.Latitude, Longitude = coordinates?.Longitude };
        var registration = new NodeRegistration(
            farmId, twinId, resources, location, body.Certification ?? NodeCertification.Diy, KeyHash.Hash(nodeKey), body.PublicKey)
            { Gpus = gpus };
        var node = await grains.GetGrain<IFarmGrain>(farmId).RegisterNodeAsync(nodeId, registration);
        return TypedResults.Created($"/api/v1/nodes/{nodeId}", new NodeCreated(nodeId, nodeKey, farmId, node.Status));
    }

    public static async Task<Ok<ImmutableArray<NodeInfo>>> ListNodes(HttpContext http, IGrainFactory grains)
    {
        var farmIds = await grains.GetGrain<ITwinGrain>(TwinAuthentication.TwinId(http)).GetFarmIdsAsync();
        var farms = await Task.WhenAll(farmIds.Select(id => grains.GetGrain<IFarmGrain>(id).GetAsync()));
        var nodeIds = farms.OfType<FarmInfo>().SelectMany(f => f.NodeIds);
        var nodes = await Task.WhenAll(nodeIds.Select(id => grains.GetGrain<INodeGrain>(id).GetAsync()));
        return TypedResults.Ok(nodes.OfType<NodeInfo>().OrderBy(n => n.NodeId).ToImmutableArray());
    }

    public static async Task<Results<Ok<NodeInfo>, ProblemHttpResult>> GetNode(long nodeId, HttpContext http, IGrainFactory grains)
    {
        var node = await Ownership.NodeAsync(grains, nodeId, TwinAuthentication.TwinId(http));
        return node is null ? Problems.NotFound($"Node {nodeId}") : TypedResults.Ok(node);
    }

    public static async Task<Results<Ok<NodeInfo>, ValidationProblem, ProblemHttpResult>> StartDrain(
        long nodeId, DrainRequest? body, HttpContext http, IGrainFactory grains)
    {
        var validation = new Validation();
        var maxParallel = (int)validation.Amount("maxParallel", body?.MaxParallel ?? 2, 1, MaxDrainParallel, required: false);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        return await SetDrainingAsync(grains, nodeId, TwinAuthentication.TwinId(http), true, maxParallel);
    }

    public static async Task<Results<Ok<NodeInfo>, ValidationProblem, ProblemHttpResult>> EndDrain(
        long nodeId, HttpContext http, IGrainFactory grains) =>
        await SetDrainingAsync(grains, nodeId, TwinAuthentication.TwinId(http), false, 1);

    public static async Task<Results<HeartbeatAnswer, ValidationProblem, ProblemHttpResult>> Heartbeat(
        long nodeId, HeartbeatBody body, HttpContext http, NodeHeartbeats heartbeats)
    {
        var request = body.Value;
        var validation = new Validation();
        var uptime = validation.Amount("uptime", request.Uptime, 0, long.MaxValue, required: true);
        var workloads = request.Workloads ?? [];
        if (workloads.Length > MaxReportedWorkloads)
        {
            validation.Add("workloads", $"at most {MaxReportedWorkloads} per heartbeat.");
            workloads = [];
        }

        var reports = ImmutableArray.CreateBuilder<WorkloadReport>(workloads.Length);
        for (var i = 0; i < workloads.Length; i++)
        {
            var w = workloads[i];
            if (w is not { WorkloadId: > 0, Epoch: >= 0, State: { } state })
            {
                validation.Add($"workloads[{i}]", "needs workloadId > 0, epoch >= 0 and state.");
                continue;
            }

            reports.Add(Report(validation, i, w, state));
        }

        var features = request.Features;
        if (features is { } named && (named.Length > MaxFeatures || named.Any(f => !NodeFeatures.Known.Contains(f))))
        {
            validation.Add("features", $"at most {MaxFeatures} of: {string.Join(", ", NodeFeatures.Known)}.");
        }

        if (request.Address is { } address && !System.Net.IPAddress.TryParse(address, out _))
        {
            validation.Add("address", "must be an IP address (the agent's --public-address).");
        }

        if (request.ImageCache is { } cache && (cache.Used < 0 || cache.Cap < 0))
        {
            validation.Add(cache.Used < 0 ? "imageCache.used" : "imageCache.cap", "must be a number of bytes, 0 or more.");
        }

        if (request.AgentVersion is { Length: 0 or > GridRelease.MaxLength })
        {
            validation.Add("agentVersion", $"must be 1 to {GridRelease.MaxLength} characters (the agent's release, e.g. 0.3.0).");
        }

        var desiredVersion = validation.OptionalAmount("desiredVersion", request.DesiredVersion, 0, long.MaxValue);
        var reportsVersion = validation.OptionalAmount("reportsVersion", request.ReportsVersion, 0, long.MaxValue);
        var reportsBase = validation.OptionalAmount("reportsBase", request.ReportsBase, 0, long.MaxValue);
        if (reportsBase is not null && reportsVersion is null)
        {
            validation.Add("reportsBase", "needs reportsVersion: the version the changed reports bring the controller to.");
        }

        GatewayHeartbeat.Check(validation, request);
        var gpus = request.Gpus is { } reported ? validation.Gpus("gpus", [.. reported.Select(g => new GpuRequest(g.Id, g.Vendor, g.Device, g.Memory))]) : (ImmutableArray<GpuDevice>?)null;
        var coordinates = validation.Coordinates("", request.Latitude, request.Longitude);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.Errors);
        }

        var heartbeat = new Grid.Heartbeat(uptime, reports.Count == reports.Capacity ? reports.MoveToImmutable() : reports.ToImmutable())
        {
            Features = features,
            Address = request.Address,
            GatewayAddress = request.GatewayAddress,
            Traffic = request.Traffic,
            TrafficSequence = request.TrafficSequence ?? 0,
            Health = request.Health,
            ImageCache = request.ImageCache,
            AgentVersion = request.AgentVersion,
            Gpus = gpus,
            Latitude = coordinates?.Latitude,
            Longitude = coordinates?.Longitude,
            DesiredVersion = desiredVersion,
            ReportsVersion = reportsVersion,
            ReportsBase = reportsBase,
        };
        return http.User.Id(GridClaims.NodeId) == nodeId
            ? new HeartbeatAnswer(await heartbeats.BeatAsync(nodeId, heartbeat))
            : Problems.Unauthorized($"The credentials are those of another node; node {nodeId} must sign its own heartbeats.");
    }

    public static async Task<Results<Ok<DesiredWorkloads>, ProblemHttpResult>> WatchDesired(
        long nodeId, long? version, int? waitMs, HttpContext http, IGrainFactory grains)
    {
        if (http.User.Id(GridClaims.NodeId) != nodeId)
        {
            return Problems.Unauthorized($"The credentials are those of another node; node {nodeId} must ask for its own workloads.");
        }

        var wait = TimeSpan.FromMilliseconds(Math.Clamp(waitMs ?? MaxDesiredWaitMs, 0, MaxDesiredWaitMs));
        return TypedResults.Ok(await grains.GetGrain<INodeGrain>(nodeId).WatchDesiredAsync(version ?? -1, wait));
    }

    private static async Task<Results<Ok<NodeInfo>, ValidationProblem, ProblemHttpResult>> SetDrainingAsync(
        IGrainFactory grains, long nodeId, long twinId, bool draining, int maxParallel)
    {
        if (await Ownership.NodeAsync(grains, nodeId, twinId) is null)
        {
            return Problems.NotFound($"Node {nodeId}");
        }

        var node = grains.GetGrain<INodeGrain>(nodeId);
        await node.SetDrainingAsync(draining, maxParallel);
        return TypedResults.Ok((await node.GetAsync())!);
    }

    /// <summary>The report of <c>workloads[<paramref name="index"/>]</c>; its field's name is only formatted for an error.</summary>
    private static WorkloadReport Report(Validation validation, int index, WorkloadReportRequest w, WorkloadState state)
    {
        var endpoints = w.Endpoints ?? [];
        if (endpoints.Length > ContainerValidation.MaxPorts)
        {
            validation.Add($"workloads[{index}].endpoints", $"at most {ContainerValidation.MaxPorts}, one per published port.");
        }

        for (var e = 0; e < endpoints.Length; e++)
        {
            if (endpoints[e] is not { Name.Length: > 0 and <= 32, Address: { } at, Port: > 0 and <= 65535 } || !System.Net.IPAddress.TryParse(at, out _))
            {
                validation.Add($"workloads[{index}].endpoints[{e}]", "needs a name, an IP address and a port 1-65535.");
            }
        }

        return new WorkloadReport(w.WorkloadId!.Value, w.Epoch!.Value, state, Math.Max(0, w.Restarts ?? 0), Truncate(w.Message, 1024))
        {
            Reason = Truncate(w.Reason, 64),
            Digest = Truncate(w.Digest, 128),
            Endpoints = w.Endpoints,
            // Only the newest output counts: a tail is what the workload keeps.
            Logs = w.Logs is { Length: > MaxLogsPerReport } logs ? logs[^MaxLogsPerReport..] : w.Logs,
        };
    }

    private static string? Truncate(string? text, int max) => text is { } value && value.Length > max ? value[..max] : text;
}
