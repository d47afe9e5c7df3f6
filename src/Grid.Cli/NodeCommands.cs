using System.CommandLine;
using Grid.Agent;
using Grid.Client;

namespace Grid.Cli;

/// <summary><c>grid nodes register|list|show|drain|undrain|unquarantine|rent|release</c> and <c>grid rents</c>.</summary>
internal static class NodeCommands
{
    private static readonly (string, string)[] s_columns =
    [
        ("ID", "nodeId"), ("FARM", "farmId"), ("STATUS", "status"), ("DRAINING", "draining"), ("COUNTRY", "location.country"),
        ("CRU", "total.cru"), ("FREE CRU", "free.cru"), ("FREE MRU", "free.mru"), ("FREE SRU", "free.sru"), ("FREE HRU", "free.hru"),
        ("GPU", "total.gpu"), ("FREE GPU", "free.gpu"), ("LAT", "location.latitude"), ("LON", "location.longitude"), ("QUARANTINED", "quarantined"),
    ];

    public static Command Build()
    {
        var id = new Argument<long>("node-id") { Description = "Node id" };

        var list = new Command("list", "List your nodes");
        list.SetApiAction((_, api, ct) => api.ListNodesAsync(ct), (output, nodes) => Output.Table(output, Output.Rows(nodes), s_columns));

        var show = new Command("show", "Show a node: status, total/used/free resources, allocations") { id };
        show.SetApiAction((parse, api, ct) => api.GetNodeAsync(parse.GetValue(id), ct), Output.Fields);

        var maxParallel = new Option<int?>("--max-parallel") { Description = "Reservations moved at the same time" };
        var drain = new Command("drain", "Stop new placements on a node and move its reservations away") { id, maxParallel };
        drain.SetApiAction(
            (parse, api, ct) => api.DrainNodeAsync(parse.GetValue(id), parse.GetValue(maxParallel), ct),
            (output, _) => output.WriteLine("node draining"));

        var undrain = new Command("undrain", "End a drain: the node takes placements again") { id };
        undrain.SetApiAction((parse, api, ct) => api.UndrainNodeAsync(parse.GetValue(id), ct), (output, _) => output.WriteLine("drain ended"));

        var unquarantine = new Command("unquarantine", "End a node's quarantine: it takes placements again (its farmer or the operator)") { id };
        unquarantine.SetApiAction((parse, api, ct) => api.ClearQuarantineAsync(parse.GetValue(id), ct), (output, _) => output.WriteLine("quarantine cleared"));

        var rent = new Command("rent", "Rent a whole node nobody else uses: only your reservations are placed on it, billed at the dedicated discount") { id };
        rent.SetApiAction((parse, api, ct) => api.RentNodeAsync(parse.GetValue(id), ct), Output.Fields);

        var release = new Command("release", "End your rent of a node (a final bill; the node is shared again)") { id };
        release.SetApiAction((parse, api, ct) => api.ReleaseNodeAsync(parse.GetValue(id), ct), (output, _) => output.WriteLine("rent ended"));

        return new Command("nodes", "Farmer machines, and renting a whole node") { Register(), list, show, drain, undrain, unquarantine, rent, release };
    }

    /// <summary><c>grid rents</c>: the caller's rent contracts.</summary>
    public static Command Rents()
    {
        var rents = new Command("rents", "Your rent contracts (whole nodes)");
        rents.SetApiAction((_, api, ct) => api.ListRentsAsync(ct), (output, all) => Output.Table(output, Output.Rows(all),
            ("CONTRACT", "id"), ("NODE", "nodeId"), ("FARM", "farmId"), ("SINCE", "createdAt"), ("PER HOUR", "pricePerHour")));
        return rents;
    }

    private static Command Register()
    {
        var farm = new Option<long>("--farm") { Description = "Farm id", Required = true };
        var cru = new Option<long?>("--cru") { Description = "Logical cores (default: this machine's)" };
        var mru = CommonOptions.Size("--mru", "RAM (default: this machine's)");
        var sru = CommonOptions.Size("--sru", "SSD (default: the disk of the current directory)");
        var hru = CommonOptions.Size("--hru", "HDD (default: 0)");
        var country = new Option<string>("--country") { Description = "Country of the node", DefaultValueFactory = _ => "Unknown" };
        var city = new Option<string>("--city") { Description = "City of the node", DefaultValueFactory = _ => "Unknown" };
        var certification = new Option<NodeCertification?>("--certification") { Description = "diy (default) or certified" };
        var register = new Command("register", "Register a node by hand and print its node key (see also 'grid agent register')")
        {
            farm, cru, mru, sru, hru, country, city, certification,
        };
        register.SetApiAction(
            async (parse, api, ct) =>
            {
                var detected = CapacityDetector.Detect(".");
                var resources = new Capacity(
                    parse.GetValue(cru) ?? detected.Cru,
                    parse.GetValue(mru) ?? detected.Mru,
                    parse.GetValue(sru) ?? detected.Sru,
                    parse.GetValue(hru) ?? 0);
                var request = new CreateNodeRequest(
                    parse.GetValue(farm), ResourcesRequest.Of(resources), new LocationRequest(parse.GetValue(country)!, parse.GetValue(city)!), parse.GetValue(certification));
                return (await api.RegisterNodeAsync(request, ct)).Raw;
            },
            (output, node) =>
            {
                output.WriteLine($"node {Output.Cell(node, "nodeId")} registered");
                output.WriteLine($"node key: {Output.Cell(node, "nodeKey")}");
            });
        return register;
    }

    /// <summary>Summary line of a node registration for people.</summary>
    public static string Describe(Capacity resources) =>
        $"cru={resources.Cru} mru={ByteSize.Format(resources.Mru)} sru={ByteSize.Format(resources.Sru)} hru={ByteSize.Format(resources.Hru)}";

}
