using System.CommandLine;
using Grid.Client;

namespace Grid.Cli;

/// <summary><c>grid names create|list|show|update|delete</c>: grid-wide names that every gateway routes.</summary>
internal static class NameCommands
{
    public static Command Build()
    {
        var name = new Argument<string>("name") { Description = "The name: lowercase letters, digits and inner hyphens, 3-63 characters" };
        var backends = new Option<string[]>("--backend")
        {
            Description = "WORKLOAD_ID:PORT_NAME (a container's published port) or an http(s):// URL (repeatable)",
            Required = true,
        };
        var healthPath = new Option<string?>("--health-path") { Description = "Path gateways probe on each backend (default /)" };
        var healthInterval = new Option<string?>("--health-interval") { Description = "Time between probes, e.g. 2s (default 2s)" };

        var create = new Command("create", "Claim a name that every gateway routes to its backends") { name, backends, healthPath, healthInterval };
        create.Validators.Add(result => CheckBackends(result, backends));
        create.SetApiAction(
            (parse, api, ct) => api.CreateNameAsync(new CreateNameRequest(parse.GetValue(name), Backends(parse, backends), Health(parse, healthPath, healthInterval)), ct),
            (output, created) => output.WriteLine($"name {Output.Cell(created, "name")} claimed: {Output.Cell(created, "url")}"));

        var update = new Command("update", "Replace a name's backends and health check") { name, backends, healthPath, healthInterval };
        update.Validators.Add(result => CheckBackends(result, backends));
        update.SetApiAction(
            (parse, api, ct) => api.UpdateNameAsync(parse.GetValue(name)!, new UpdateNameRequest(Backends(parse, backends), Health(parse, healthPath, healthInterval)), ct),
            Output.Fields);

        var list = new Command("list", "List your names");
        list.SetApiAction((_, api, ct) => api.ListNamesAsync(ct), (output, all) => Output.Table(output, Output.Rows(all), ("NAME", "name"), ("URL", "url"), ("CREATED", "createdAt")));

        var show = new Command("show", "Show a name: its URL and each backend's state (healthy, unhealthy, moving, not-running)") { name };
        show.SetApiAction((parse, api, ct) => api.GetNameAsync(parse.GetValue(name)!, ct), Output.Fields);

        var delete = new Command("delete", "Release a name: gateways stop routing it and it can be claimed again") { name };
        delete.SetApiAction((parse, api, ct) => api.DeleteNameAsync(parse.GetValue(name)!, ct), (output, _) => output.WriteLine("name released"));

        return new Command("names", "Names every gateway node routes to your workloads") { create, list, show, update, delete };
    }

    /// <summary>Reads <c>WORKLOAD_ID:PORT_NAME</c> or an <c>http(s)://</c> URL; null when it is neither.</summary>
    internal static NameBackendRequest? ParseBackend(string text)
    {
        if (text.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            return new NameBackendRequest(Url: text);
        }

        var parts = text.Split(':', 2);
        return parts.Length == 2 && long.TryParse(parts[0], out var workloadId) && parts[1].Length > 0 ? new NameBackendRequest(workloadId, parts[1]) : null;
    }

    private static void CheckBackends(System.CommandLine.Parsing.CommandResult result, Option<string[]> backends)
    {
        foreach (var backend in (result.GetValue(backends) ?? []).Where(b => ParseBackend(b) is null))
        {
            result.AddError($"--backend '{backend}' is neither WORKLOAD_ID:PORT_NAME nor an http(s):// URL.");
        }
    }

    private static System.Collections.Immutable.ImmutableArray<NameBackendRequest> Backends(ParseResult parse, Option<string[]> backends) =>
        [.. (parse.GetValue(backends) ?? []).Select(b => ParseBackend(b)!)];

    private static HealthCheckRequest? Health(ParseResult parse, Option<string?> path, Option<string?> interval) =>
        parse.GetValue(path) is null && parse.GetValue(interval) is null ? null : new HealthCheckRequest(parse.GetValue(path), parse.GetValue(interval));
}
