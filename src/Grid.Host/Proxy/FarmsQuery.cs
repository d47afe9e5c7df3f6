using Grid.Scheduling;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Proxy;

/// <summary><c>/farms</c>: the farm directory, with the grid proxy's farm filters and its node-level filters
/// (a farm matches when at least one of its nodes in the capacity view passes them all).</summary>
public static class FarmsQuery
{
    private static readonly string[] Filters =
    [
        "free_ips", "total_ips", "stellar_address", "pricing_policy_id", "farm_id", "twin_id", "name", "name_contains",
        "certification_type", "dedicated", "node_free_mru", "node_free_hru", "node_free_sru", "node_total_cru",
        "node_status", "node_rented_by", "node_available_for", "node_has_gpu", "node_has_ipv6", "node_certified",
        "node_features", "country", "region",
    ];

    private static readonly string[] SortKeys = ["name", "farm_id", "twin_id", "dedicated", "public_ips", "free_ips", "total_ips", "used_ips"];

    private static readonly IComparer<FarmInfo> ById = Comparer<FarmInfo>.Create((a, b) => a.FarmId.CompareTo(b.FarmId));

    public static Results<Ok<List<ProxyFarm>>, ValidationProblem> List(HttpContext http, FarmDirectory farms, CapacityView view)
    {
        var query = new ProxyQuery(http.Request.Query, [.. Filters, .. ProxyQuery.LimitParameters]);
        var farmFilter = FarmFilter(query);
        var nodeFilter = NodeFilter(query);
        var limit = query.Limit(SortKeys);
        if (!query.IsValid)
        {
            return query.Problem();
        }

        HashSet<long>? withMatchingNode = null;
        if (nodeFilter is not null)
        {
            withMatchingNode = [.. view.Nodes.Where(nodeFilter).Select(n => n.FarmId)];
        }

        var matching = farms.Farms.Where(f => farmFilter(f) && (withMatchingNode is null || withMatchingNode.Contains(f.FarmId))).ToList();
        limit.WriteCount(http.Response, matching.Count);
        return TypedResults.Ok(limit.Apply(matching, ComparerFor, ById).ConvertAll(ProxyViews.Farm));
    }

    private static IComparer<FarmInfo> ComparerFor(string sortBy)
    {
        if (sortBy == "name")
        {
            return Comparer<FarmInfo>.Create((a, b) => string.Compare(a.Name, b.Name, StringComparison.OrdinalIgnoreCase) is var c && c != 0 ? c : ById.Compare(a, b));
        }

        Func<FarmInfo, long> key = sortBy switch
        {
            "twin_id" => f => f.TwinId,
            "free_ips" => f => NodeQuery.FreeIps(f),
            "total_ips" or "public_ips" => f => f.PublicIps.Length,
            "used_ips" => f => f.PublicIps.Length - NodeQuery.FreeIps(f),
            "dedicated" => _ => 0,
            _ => f => f.FarmId,
        };
        return Comparer<FarmInfo>.Create((a, b) => key(a).CompareTo(key(b)) is var c && c != 0 ? c : ById.Compare(a, b));
    }

    private static Func<FarmInfo, bool> FarmFilter(ProxyQuery query)
    {
        var freeIps = query.Natural("free_ips");
        var totalIps = query.Natural("total_ips");
        var farmId = query.Natural("farm_id");
        var twinId = query.Natural("twin_id");
        var name = query.Text("name");
        var nameContains = query.Text("name_contains");
        var certification = query.Text("certification_type");
        // No stellar addresses, pricing policies or dedicated farms here: only their neutral values match.
        var stellar = query.Text("stellar_address");
        var pricingPolicy = query.Natural("pricing_policy_id");
        var dedicated = query.Bool("dedicated");
        return f =>
            (freeIps is null || NodeQuery.FreeIps(f) >= freeIps)
            && (totalIps is null || f.PublicIps.Length >= totalIps)
            && (farmId is null || f.FarmId == farmId)
            && (twinId is null || f.TwinId == twinId)
            && (name is null || f.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            && (nameContains is null || f.Name.Contains(nameContains, StringComparison.OrdinalIgnoreCase))
            && (certification is null || f.Certification.ToString() == certification)
            && stellar is null
            && (pricingPolicy is null or 0)
            && dedicated != true;
    }

    /// <summary>The node-level filters, or null when none was given.</summary>
    private static Func<NodeSummary, bool>? NodeFilter(ProxyQuery query)
    {
        var freeMru = query.Natural("node_free_mru");
        var freeHru = query.Natural("node_free_hru");
        var freeSru = query.Natural("node_free_sru");
        var totalCru = query.Natural("node_total_cru");
        var statuses = query.OneOf("node_status", NodeQuery.Statuses);
        var rentedBy = query.Natural("node_rented_by");
        var availableFor = query.Natural("node_available_for");
        var hasGpu = query.Bool("node_has_gpu");
        var hasIpv6 = query.Bool("node_has_ipv6");
        var certified = query.Bool("node_certified");
        var features = query.List("node_features");
        var country = query.Text("country");
        var region = query.Text("region");
        if (features?.FirstOrDefault(f => !NodeQuery.Features.Contains(f, StringComparer.Ordinal)) is { } unknown)
        {
            query.Fail("node_features", $"'{unknown}' is not a valid node feature.");
        }

        if (freeMru is null && freeHru is null && freeSru is null && totalCru is null && statuses is null && rentedBy is null
            && availableFor is null && hasGpu is null && hasIpv6 is null && certified is null && features is null && country is null && region is null)
        {
            return null;
        }

        return n =>
            (freeMru is null || n.Free.Mru >= freeMru)
            && (freeHru is null || n.Free.Hru >= freeHru)
            && (freeSru is null || n.Free.Sru >= freeSru)
            && (totalCru is null || n.Total.Cru >= totalCru)
            && (statuses is null || statuses.Contains(NodeQuery.Status(n.Status)))
            && (rentedBy is null or 0)
            && hasGpu != true
            && hasIpv6 != true
            && (certified is null || (n.Certification == NodeCertification.Certified) == certified)
            && features is not { Length: > 0 }
            && (country is null || n.Location.Country.Equals(country, StringComparison.OrdinalIgnoreCase))
            && region is null;
    }
}
