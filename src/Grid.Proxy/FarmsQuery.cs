using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Proxy;

/// <summary><c>/farms</c>: the read model's farms, with the grid proxy's farm filters and its node-level filters
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

    public static async Task<Results<Ok<List<ProxyFarm>>, ValidationProblem>> List(
        HttpContext http, IProxyReadStore store, NodeIndex index, FarmDirectory farms, CancellationToken cancellationToken)
    {
        var query = new ProxyQuery(http.Request.Query, [.. Filters, .. ProxyQuery.LimitParameters]);
        var filter = FarmFilter(query);
        var nodeFilter = NodeLevelFilter(query);
        var limit = query.Limit(SortKeys);
        if (!query.IsValid)
        {
            return query.Problem();
        }

        if (nodeFilter is not null)
        {
            var snapshot = index.Current();
            var bound = nodeFilter.Bind(snapshot, farms);
            var withMatchingNode = new HashSet<long>();
            foreach (var i in bound.Candidates ?? Enumerable.Range(0, snapshot.Entries.Length))
            {
                if (bound.Matches(in snapshot.Entries[i]))
                {
                    withMatchingNode.Add(snapshot.Entries[i].FarmId);
                }
            }

            filter = filter with { FarmIds = withMatchingNode };
        }

        var page = await store.FarmsAsync(filter, limit, cancellationToken);
        limit.WriteCount(http.Response, page.Total);
        return TypedResults.Ok<List<ProxyFarm>>([.. page.Items.Select(ProxyViews.Farm)]);
    }

    private static FarmFilter FarmFilter(ProxyQuery query)
    {
        // No stellar addresses, pricing policies or dedicated farms here: only their neutral values match.
        var unmatchable = query.Text("stellar_address") is not null | query.Natural("pricing_policy_id") is not (null or 0)
            | query.Bool("dedicated") == true;
        return new FarmFilter(
            query.Natural("free_ips"), query.Natural("total_ips"), query.Natural("farm_id"), query.Natural("twin_id"), query.Text("name"),
            query.Text("name_contains"), query.Text("certification_type"), FarmIds: null, unmatchable);
    }

    /// <summary>The node-level filters as a <see cref="NodeFilter"/> over the node index, or null when none was given.</summary>
    private static NodeFilter? NodeLevelFilter(ProxyQuery query)
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

        return new NodeFilter
        {
            MinFreeMru = freeMru ?? long.MinValue,
            MinFreeHru = freeHru ?? long.MinValue,
            MinFreeSru = freeSru ?? long.MinValue,
            MinTotalCru = totalCru ?? long.MinValue,
            StatusMask = statuses is null ? -1 : NodeFilter.StatusMaskOf(statuses),
            CertificationMask = certified is not { } wanted ? -1
                : wanted ? 1 << (int)NodeCertification.Certified : ~(1 << (int)NodeCertification.Certified),
            Country = country,
            RentedBy = rentedBy,
            AvailableFor = availableFor,
            // No GPUs, public IPv6 config, features or regions here: asking for one matches no node.
            MatchesNothing = hasGpu == true || hasIpv6 == true || features is { Length: > 0 } || region is not null,
        };
    }
}
