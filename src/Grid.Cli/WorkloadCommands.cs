using System.Collections.Immutable;
using System.CommandLine;
using Grid.Client;

namespace Grid.Cli;

/// <summary><c>grid workloads deploy|show|logs|delete</c>.</summary>
internal static class WorkloadCommands
{
    public static Command Build()
    {
        var reservation = new Option<long>("--reservation") { Description = "Reservation to deploy into", Required = true };
        var name = new Option<string>("--name") { Description = "Name of the workload", Required = true };
        var type = new Option<WorkloadType?>("--type") { Description = "process, container, volume, vm, zdb or gateway (default: container with --container, volume with --size, else process)" };
        var cru = new Option<long?>("--cru") { Description = "Logical cores (default: the reservation's)" };
        var mru = CommonOptions.Size("--mru", "RAM");
        var sru = CommonOptions.Size("--sru", "SSD");
        var hru = CommonOptions.Size("--hru", "HDD");
        var command = new Option<string?>("--command") { Description = "Program a process workload runs, e.g. /bin/sh" };
        var args = new Option<string[]>("--arg") { Description = "An argument of the program (repeatable, in order)" };
        var env = new Option<string[]>("--env") { Description = "NAME=value for the program's environment (repeatable)" };
        var container = new Option<string?>("--container") { Description = "Image of a container workload, pinned by digest: host[:port]/repo@sha256:… or http(s)://…archive@sha256:…" };
        var entrypoint = new Option<string[]>("--entrypoint") { Description = "The container's program and its first arguments (repeatable; default: the image's)" };
        var ports = new Option<string[]>("--port") { Description = "NAME:PORT a container listens on, published on its node (repeatable), e.g. http:8080" };
        var volumes = new Option<string[]>("--volume") { Description = "VOLUME:/path[:ro] mounts a volume of the reservation into the container (repeatable)" };
        var workdir = new Option<string?>("--workdir") { Description = "The container's working directory" };
        var restart = new Option<string?>("--restart") { Description = "always, on-failure (default) or never" };
        var size = CommonOptions.Size("--size", "Size of a volume workload");
        var deploy = new Command("deploy", "Deploy a workload into a reservation")
        {
            reservation, name, type, cru, mru, sru, hru, command, args, env, container, entrypoint, ports, volumes, workdir, restart, size,
        };
        deploy.Validators.Add(result =>
        {
            var kind = KindOf(result.GetValue(type), result.GetValue(container), result.GetValue(size));
            if (kind == WorkloadType.Process && string.IsNullOrWhiteSpace(result.GetValue(command)))
            {
                result.AddError("a process workload needs --command.");
            }

            if (kind == WorkloadType.Container && string.IsNullOrWhiteSpace(result.GetValue(container)))
            {
                result.AddError("a container workload needs --container IMAGE.");
            }

            foreach (var port in (result.GetValue(ports) ?? []).Where(p => ParsePort(p) is null))
            {
                result.AddError($"--port '{port}' is not NAME:PORT.");
            }

            foreach (var mount in (result.GetValue(volumes) ?? []).Where(m => ParseMount(m) is null))
            {
                result.AddError($"--volume '{mount}' is not VOLUME:/path or VOLUME:/path:ro.");
            }

            foreach (var pair in (result.GetValue(env) ?? []).Where(p => p.IndexOf('=', StringComparison.Ordinal) <= 0))
            {
                result.AddError($"--env '{pair}' is not NAME=value.");
            }
        });
        deploy.SetApiAction(
            (parse, api, ct) =>
            {
                var sized = parse.GetValue(cru) is not null || parse.GetValue(mru) is not null || parse.GetValue(sru) is not null || parse.GetValue(hru) is not null;
                var resources = sized ? new ResourcesRequest(parse.GetValue(cru) ?? 0, parse.GetValue(mru) ?? 0, parse.GetValue(sru) ?? 0, parse.GetValue(hru) ?? 0, 0) : null;
                var kind = KindOf(parse.GetValue(type), parse.GetValue(container), parse.GetValue(size));
                var variables = (parse.GetValue(env) ?? []).Select(p => p.Split('=', 2)).ToImmutableDictionary(p => p[0], p => p[1]);
                var process = kind == WorkloadType.Process && parse.GetValue(command) is { } program
                    ? new ProcessRequest(program, [.. parse.GetValue(args) ?? []], variables)
                    : null;
                var image = kind == WorkloadType.Container
                    ? new ContainerRequest(
                        parse.GetValue(container),
                        parse.GetValue(entrypoint) is { Length: > 0 } entry ? [.. entry] : null,
                        parse.GetValue(args) is { Length: > 0 } given ? [.. given] : null,
                        variables.IsEmpty ? null : variables,
                        parse.GetValue(workdir),
                        [.. (parse.GetValue(ports) ?? []).Select(p => ParsePort(p)!)],
                        [.. (parse.GetValue(volumes) ?? []).Select(m => ParseMount(m)!)],
                        parse.GetValue(restart))
                    : null;
                var volume = kind == WorkloadType.Volume ? new VolumeRequest(parse.GetValue(size)) : null;
                return api.DeployWorkloadAsync(
                    parse.GetValue(reservation), new CreateWorkloadRequest(parse.GetValue(name)!, kind, resources, process, image, volume), ct);
            },
            (output, workload) => output.WriteLine($"workload {Output.Cell(workload, "workloadId")} {Output.Cell(workload, "state")}"));

        var id = new Argument<long>("workload-id") { Description = "Workload id" };
        var show = new Command("show", "Show a workload: spec, state, node, epoch, restarts") { id };
        show.SetApiAction((parse, api, ct) => api.GetWorkloadAsync(parse.GetValue(id), ct), Output.Fields);

        var delete = new Command("delete", "Delete a workload; its node stops it") { id };
        delete.SetApiAction((parse, api, ct) => api.DeleteWorkloadAsync(parse.GetValue(id), ct), (output, _) => output.WriteLine("workload deleted"));

        var tail = new Option<int>("--tail") { Description = "Number of lines, from the end (default 200)", DefaultValueFactory = _ => 200 };
        var logs = new Command("logs", "Print the last lines a workload wrote (stdout and stderr)") { id, tail };
        logs.SetApiAction(
            async (parse, api, ct) => System.Text.Json.JsonSerializer.SerializeToElement(await api.GetWorkloadLogsAsync(parse.GetValue(id), parse.GetValue(tail), ct)),
            (output, text) => output.Write(text.GetString()));

        return new Command("workloads", "What runs inside reservations") { deploy, show, logs, delete };
    }

    /// <summary>The type asked for, else what the options imply: a container with an image, a volume with a size, else a process.</summary>
    private static WorkloadType KindOf(WorkloadType? type, string? image, long? size) =>
        type ?? (image is not null ? WorkloadType.Container : size is not null ? WorkloadType.Volume : WorkloadType.Process);

    /// <summary>Reads <c>NAME:PORT</c>; null when it is not that.</summary>
    internal static PortRequest? ParsePort(string text)
    {
        var parts = text.Split(':', 2);
        return parts.Length == 2 && parts[0].Length > 0 && int.TryParse(parts[1], out var port) ? new PortRequest(parts[0], port) : null;
    }

    /// <summary>Reads <c>VOLUME:/path</c> or <c>VOLUME:/path:ro</c>; null when it is not that.</summary>
    internal static MountRequest? ParseMount(string text)
    {
        var parts = text.Split(':');
        return parts switch
        {
            [var volume, var path] when volume.Length > 0 && path.StartsWith('/') => new MountRequest(volume, path),
            [var volume, var path, "ro"] when volume.Length > 0 && path.StartsWith('/') => new MountRequest(volume, path, true),
            _ => null,
        };
    }
}
