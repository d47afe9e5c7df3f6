using Grid.Scheduling;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Grid.Proxy;

/// <summary>
/// The ThreeFold grid proxy's read API at the root of the host (public, no key), so its clients work against our
/// grid unmodified. Nodes come from the silo-local capacity view (joined to the farm directory, a copy of the read
/// model's farms), farms, addresses, twins, contracts, bills and consumption from the ledger's read model
/// (<see cref="IProxyReadStore"/>): no call here activates a grain. The host decides who may call it
/// (<see cref="MapProxyApi"/> answers the group for its access conventions).
/// </summary>
public static class ProxyApi
{
    private static readonly string[] TwinFilters = ["twin_id", "account_id", "relay", "public_key"];
    private static readonly string[] TwinSortKeys = ["twin_id", "account_id", "relay", "public_key"];
    private static readonly string[] IpFilters = ["farm_ids", "free", "ip", "gateway"];
    private static readonly string[] IpSortKeys = ["ip", "contract_id", "farm_id"];

    public static RouteGroupBuilder MapProxyApi(this IEndpointRouteBuilder app)
    {
        var proxy = app.MapGroup("").WithTags("Grid proxy");
        proxy.MapGet("/nodes", ListNodes).WithName("ProxyNodes").WithSummary("Nodes with the grid proxy's filters, sorting and paging.");
        proxy.MapGet("/nodes/{nodeId:long}", GetNode).WithName("ProxyNode").WithSummary("One node, capacity nested as the grid proxy answers it.");
        proxy.MapGet("/nodes/{nodeId:long}/status", GetNodeStatus).WithName("ProxyNodeStatus").WithSummary("A node's status: up, down or standby.");
        proxy.MapGet("/farms", FarmsQuery.List).WithName("ProxyFarms").WithSummary("Farms with their public IPs and node-level filters.");
        proxy.MapGet("/public_ips", ListPublicIps).WithName("ProxyPublicIps").WithSummary("Every farm's public IPv4 addresses and who holds them.");
        proxy.MapGet("/twins", ListTwins).WithName("ProxyTwins").WithSummary("Twins.");
        proxy.MapGet("/twins/{twinId:long}/consumption", ContractsQuery.Consumption).WithName("ProxyTwinConsumption").WithSummary("A twin's spending in the last hour and overall.");
        proxy.MapGet("/contracts", ContractsQuery.List).WithName("ProxyContracts").WithSummary("Reservations as node contracts.");
        proxy.MapGet("/contracts/{contractId:long}", ContractsQuery.Get).WithName("ProxyContract").WithSummary("One contract.");
        proxy.MapGet("/contracts/{contractId:long}/bills", ContractsQuery.Bills).WithName("ProxyContractBills").WithSummary("A contract's bills, newest first.");
        proxy.MapGet("/stats", GetStats).WithName("ProxyStats").WithSummary("Totals over the grid's nodes, farms, twins and contracts.");
        proxy.MapGet("/ping", () => TypedResults.Ok(new ProxyPing("pong"))).WithName("ProxyPing");
        proxy.MapGet("/version", (IOptions<ProxyOptions> options) => TypedResults.Ok(new ProxyVersion(options.Value.Version ?? GridRelease.Version)))
            .WithName("ProxyVersion");
        return proxy;
    }

    public static Results<Ok<List<ProxyNode>>, ValidationProblem> ListNodes(
        HttpContext http, NodeIndex index, FarmDirectory farms, GridClock clock)
    {
        var query = new ProxyQuery(http.Request.Query, [.. NodeQuery.Filters, .. ProxyQuery.LimitParameters]);
        var filter = NodeQuery.Filter(query);
        var limit = query.Limit(NodeQuery.SortKeys);
        if (!query.IsValid)
        {
            return query.Problem();
        }

        var (page, count) = NodeQuery.Page(index.Current(), filter, limit, farms);
        limit.WriteCount(http.Response, count);
        var now = clock.UtcNow;
        return TypedResults.Ok(page.ConvertAll(r => ProxyViews.Node(r, now, nested: false)));
    }

    public static Results<Ok<ProxyNode>, ProblemHttpResult> GetNode(long nodeId, CapacityView view, FarmDirectory farms, GridClock clock) =>
        FindNode(nodeId, view, farms) is { } row
            ? TypedResults.Ok(ProxyViews.Node(row, clock.UtcNow, nested: true))
            : NotFound($"Node {nodeId}");

    public static Results<Ok<ProxyNodeStatus>, ProblemHttpResult> GetNodeStatus(long nodeId, CapacityView view, FarmDirectory farms) =>
        FindNode(nodeId, view, farms) is { } row
            ? TypedResults.Ok(new ProxyNodeStatus(NodeQuery.Status(row.Node.Status)))
            : NotFound($"Node {nodeId}");

    public static async Task<Results<Ok<List<ProxyPublicIp>>, ValidationProblem>> ListPublicIps(
        HttpContext http, IProxyReadStore store, CancellationToken cancellationToken)
    {
        var query = new ProxyQuery(http.Request.Query, [.. IpFilters, .. ProxyQuery.LimitParameters]);
        var filter = new PublicIpFilter(query.NaturalList("farm_ids"), query.Bool("free"), query.Text("ip"), query.Text("gateway"));
        var limit = query.Limit(IpSortKeys);
        if (!query.IsValid)
        {
            return query.Problem();
        }

        var page = await store.PublicIpsAsync(filter, limit, cancellationToken);
        limit.WriteCount(http.Response, page.Total);
        return TypedResults.Ok<List<ProxyPublicIp>>([.. page.Items.Select(ProxyViews.PublicIp)]);
    }

    public static async Task<Results<Ok<List<ProxyTwin>>, ValidationProblem>> ListTwins(
        HttpContext http, IProxyReadStore store, CancellationToken cancellationToken)
    {
        var query = new ProxyQuery(http.Request.Query, [.. TwinFilters, .. ProxyQuery.LimitParameters]);
        var twinId = query.Natural("twin_id");
        // Twins here have no chain account, relay or public key: a filter on one matches only its empty value.
        var unmatchable = query.Text("account_id") is not null || query.Text("relay") is not null || query.Text("public_key") is not null;
        var limit = query.Limit(TwinSortKeys);
        if (!query.IsValid)
        {
            return query.Problem();
        }

        var page = unmatchable ? new ProxyPage<TwinRow>([], 0) : await store.TwinsAsync(twinId, limit, cancellationToken);
        limit.WriteCount(http.Response, page.Total);
        return TypedResults.Ok<List<ProxyTwin>>([.. page.Items.Select(ProxyViews.Twin)]);
    }

    public static async Task<Results<Ok<ProxyStats>, ValidationProblem>> GetStats(
        HttpContext http, CapacityView view, FarmDirectory farms, IProxyReadStore store, CancellationToken cancellationToken)
    {
        var query = new ProxyQuery(http.Request.Query, ["status", .. ProxyQuery.LimitParameters]);
        var statuses = query.OneOf("status", NodeQuery.Statuses);
        query.Limit([]);
        if (!query.IsValid)
        {
            return query.Problem();
        }

        long nodes = 0, cru = 0, sru = 0, mru = 0, hru = 0, workloads = 0, gateways = 0, gpus = 0;
        var distribution = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var node in view.Nodes)
        {
            if (statuses is not null && !statuses.Contains(NodeQuery.Status(node.Status)))
            {
                continue;
            }

            nodes++;
            cru += node.Total.Cru;
            sru += node.Total.Sru;
            mru += node.Total.Mru;
            hru += node.Total.Hru;
            workloads += node.Workloads;
            gpus += node.Gpus.IsDefault ? 0 : node.Gpus.Length;
            // As ThreeFold's grid proxy: gateways are the nodes (of the status asked) that serve names — there, nodes
            // with a public config holding a domain and an address; here, nodes whose agent reports the gateway feature.
            gateways += node.Features.Contains(NodeFeatures.Gateway) ? 1 : 0;
            distribution[node.Location.Country] = distribution.GetValueOrDefault(node.Location.Country) + 1;
        }

        var farmList = farms.Farms;
        var totals = await store.TotalsAsync(cancellationToken);
        return TypedResults.Ok(new ProxyStats(
            nodes, farmList.Count, distribution.Count, cru, sru, mru, hru,
            PublicIps: farmList.Sum(f => (long)f.PublicIps.Count),
            AccessNodes: 0,
            Gateways: gateways,
            Twins: totals.Twins,
            Contracts: totals.Contracts,
            NodesDistribution: distribution,
            Gpus: gpus,
            DedicatedNodes: 0,
            WorkloadsNumber: workloads));
    }

    /// <summary>The 404 the grid's API answers (RFC 7807), for a node or contract the read model does not hold.</summary>
    internal static ProblemHttpResult NotFound(string what) =>
        TypedResults.Problem(title: "Not found", detail: $"{what} was not found.", statusCode: StatusCodes.Status404NotFound);

    internal static int Compare(long a, long b, string textA, string textB) =>
        a != b ? a.CompareTo(b) : string.CompareOrdinal(textA, textB);

    private static NodeRow? FindNode(long nodeId, CapacityView view, FarmDirectory farms) =>
        view.TryGet(nodeId, out var node) ? NodeQuery.Row(node, farms) : null;
}
