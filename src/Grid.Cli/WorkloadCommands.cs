using System.Collections.Immutable;
using System.CommandLine;
using Grid.Client;

namespace Grid.Cli;

/// <summary><c>grid workloads deploy|show|delete</c>.</summary>
internal static class WorkloadCommands
{
    public static Command Build()
    {
        var reservation = new Option<long>("--reservation") { Description = "Reservation to deploy into", Required = true };
        var name = new Option<string>("--name") { Description = "Name of the workload", Required = true };
        var type = new Option<WorkloadType>("--type") { Description = "process, vm, zdb or gateway", DefaultValueFactory = _ => WorkloadType.Process };
        var cru = new Option<long?>("--cru") { Description = "Logical cores (default: the reservation's)" };
        var mru = CommonOptions.Size("--mru", "RAM");
        var sru = CommonOptions.Size("--sru", "SSD");
        var hru = CommonOptions.Size("--hru", "HDD");
        var command = new Option<string?>("--command") { Description = "Program a process workload runs, e.g. /bin/sh" };
        var args = new Option<string[]>("--arg") { Description = "An argument of the program (repeatable, in order)" };
        var env = new Option<string[]>("--env") { Description = "NAME=value for the program's environment (repeatable)" };
        var deploy = new Command("deploy", "Deploy a workload into a reservation") { reservation, name, type, cru, mru, sru, hru, command, args, env };
        deploy.Validators.Add(result =>
        {
            if (result.GetValue(type) == WorkloadType.Process && string.IsNullOrWhiteSpace(result.GetValue(command)))
            {
                result.AddError("a process workload needs --command.");
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
                var process = parse.GetValue(command) is { } program
                    ? new ProcessRequest(
                        program,
                        [.. parse.GetValue(args) ?? []],
                        (parse.GetValue(env) ?? []).Select(p => p.Split('=', 2)).ToImmutableDictionary(p => p[0], p => p[1]))
                    : null;
                return api.DeployWorkloadAsync(parse.GetValue(reservation), new CreateWorkloadRequest(parse.GetValue(name)!, parse.GetValue(type), resources, process), ct);
            },
            (output, workload) => output.WriteLine($"workload {Output.Cell(workload, "workloadId")} {Output.Cell(workload, "state")}"));

        var id = new Argument<long>("workload-id") { Description = "Workload id" };
        var show = new Command("show", "Show a workload: spec, state, node, epoch, restarts") { id };
        show.SetApiAction((parse, api, ct) => api.GetWorkloadAsync(parse.GetValue(id), ct), Output.Fields);

        var delete = new Command("delete", "Delete a workload; its node stops it") { id };
        delete.SetApiAction((parse, api, ct) => api.DeleteWorkloadAsync(parse.GetValue(id), ct), (output, _) => output.WriteLine("workload deleted"));

        return new Command("workloads", "What runs inside reservations") { deploy, show, delete };
    }
}
