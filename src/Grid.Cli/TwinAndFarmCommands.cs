using System.Collections.Immutable;
using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Grid.Client;

namespace Grid.Cli;

/// <summary><c>grid twins create</c> and <c>grid farms create</c>.</summary>
internal static class TwinAndFarmCommands
{
    public static Command Twins()
    {
        var name = new Option<string>("--name") { Description = "Name of the twin", Required = true };
        var create = new Command("create", "Create a twin (an identity) and print its api key, shown only once") { name };
        create.SetApiAction(
            async (parse, api, ct) => JsonSerializer.SerializeToElement(await api.CreateTwinAsync(parse.GetValue(name)!, cancellationToken: ct), GridJson.Options),
            (output, twin) =>
            {
                output.WriteLine($"twin {Output.Cell(twin, "twinId")} created");
                output.WriteLine($"api key: {Output.Cell(twin, "apiKey")}   (export GRID_API_KEY=... to use it)");
            },
            needsApiKey: false);
        return new Command("twins", "Identities of tenants and farmers") { create };
    }

    public static Command Farms()
    {
        var name = new Option<string>("--name") { Description = "Name of the farm", Required = true };
        var certification = new Option<FarmCertification?>("--certification") { Description = "notCertified (default) or gold" };
        var publicIps = new Option<string[]>("--public-ip")
        {
            Description = "A public IPv4 address with prefix, e.g. 185.69.166.2/24 (repeatable)",
            AllowMultipleArgumentsPerToken = true,
        };
        var gateway = new Option<string?>("--gateway") { Description = "Gateway of the public IPs, e.g. 185.69.166.1" };
        var overcommit = new Option<double?>("--cpu-overcommit") { Description = "CPU overcommit ratio (default 1.0)" };
        var create = new Command("create", "Create a farm owned by your twin") { name, certification, publicIps, gateway, overcommit };
        create.Validators.Add(result =>
        {
            var ips = result.GetValue(publicIps) ?? [];
            if (ips.Length > 0 && result.GetValue(gateway) is null)
            {
                result.AddError("--public-ip needs --gateway.");
            }

            foreach (var ip in ips.Where(ip => !IsIpv4WithPrefix(ip)))
            {
                result.AddError($"'{ip}' is not an IPv4 address with prefix like 185.69.166.2/24.");
            }
        });
        create.SetApiAction(
            (parse, api, ct) => api.CreateFarmAsync(
                new CreateFarmRequest(
                    parse.GetValue(name)!,
                    parse.GetValue(certification),
                    parse.GetValue(publicIps) is { Length: > 0 } ips ? ips.Select(ip => new PublicIpRequest(ip, parse.GetValue(gateway)!)).ToImmutableArray() : null,
                    parse.GetValue(overcommit)),
                ct),
            (output, farm) => output.WriteLine($"farm {Output.Cell(farm, "farmId")} created"));
        return new Command("farms", "Farms: a farmer's group of nodes") { create, BillingCommands.Earnings() };
    }

    /// <summary>True for <c>a.b.c.d/n</c>; host bits may be set because it names one address of the subnet.</summary>
    private static bool IsIpv4WithPrefix(string text) =>
        text.Split('/') is [var address, var prefix]
        && IPAddress.TryParse(address, out var ip) && ip.AddressFamily == AddressFamily.InterNetwork
        && int.TryParse(prefix, out var bits) && bits is >= 0 and <= 32;
}
