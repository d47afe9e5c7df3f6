using Grid.Scheduling;

namespace Grid.Host.Proxy;

/// <summary>A node with what the grid proxy joins to it: its farm (if known yet) and the farm's free addresses.</summary>
public readonly record struct NodeRow(NodeSummary Node, FarmRow? Farm, int FarmFreeIps);

/// <summary>
/// <c>/nodes</c> answered from this silo's <see cref="CapacityView"/>: the grid proxy's filters and sort keys,
/// evaluated in memory over the summaries, never by calling node grains.
/// </summary>
public static class NodeQuery
{
    public static readonly string[] Statuses = ["up", "down", "standby"];

    /// <summary>The grid proxy's node filters (<c>types.NodeFilter</c>).</summary>
    public static readonly string[] Filters =
    [
        "status", "free_mru", "free_hru", "free_sru", "total_mru", "total_hru", "total_sru", "total_cru", "country",
        "country_contains", "city", "city_contains", "region", "farm_name", "farm_name_contains", "farm_ids", "free_ips",
        "ipv4", "ipv6", "domain", "dedicated", "in_dedicated_farm", "rentable", "owned_by", "rented", "rented_by",
        "rentable_or_rented_by", "available_for", "node_id", "node_ids", "twin_id", "certification_type", "has_gpu",
        "num_gpu", "gpu_device_id", "gpu_device_name", "gpu_vendor_id", "gpu_vendor_name", "gpu_available", "healthy",
        "price_min", "price_max", "excluded", "has_ipv6", "features",
    ];

    /// <summary>The node features the grid proxy accepts in <c>features</c> (its <c>FeaturesSet</c>).</summary>
    public static readonly string[] Features =
    [
        "zmount", "zdb", "volume", "ipv4", "ip", "gateway-name-proxy", "gateway-fqdn-proxy", "qsfs", "zlogs", "network",
        "zmachine", "zmachine-light", "network-light", "wireguard", "yggdrasil", "mycelium",
    ];

    private static readonly Dictionary<string, Func<NodeRow, long>> NumericKeys = new(StringComparer.Ordinal)
    {
        ["node_id"] = r => r.Node.NodeId,
        ["farm_id"] = r => r.Node.FarmId,
        ["twin_id"] = r => r.Node.TwinId,
        // Longer up = booted earlier; a down node has no uptime. Independent of "now", so a sort is stable.
        ["uptime"] = r => r.Node.BootedAt is { } booted && r.Node.Status != NodeStatus.Down ? DateTimeOffset.MaxValue.UtcTicks - booted.UtcTicks : 0,
        ["created"] = r => r.Node.CreatedAt.UtcTicks,
        ["updated_at"] = r => (r.Node.StatusChangedAt ?? r.Node.CreatedAt).UtcTicks,
        ["total_cru"] = r => r.Node.Total.Cru,
        ["total_mru"] = r => r.Node.Total.Mru,
        ["total_sru"] = r => r.Node.Total.Sru,
        ["total_hru"] = r => r.Node.Total.Hru,
        ["used_cru"] = r => r.Node.Used.Cru,
        ["used_mru"] = r => r.Node.Used.Mru,
        ["used_sru"] = r => r.Node.Used.Sru,
        ["used_hru"] = r => r.Node.Used.Hru,
        ["free_cru"] = r => r.Node.Total.Cru - r.Node.Used.Cru,
        ["status"] = r => StatusRank(r.Node.Status),
        // No dedicated farms, rent contracts, renting, GPUs, extra fees or prices on this grid: all equal.
        ["dedicated_farm"] = _ => 0,
        ["rent_contract_id"] = _ => 0,
        ["rented"] = _ => 0,
        ["rentable"] = _ => 0,
        ["num_gpu"] = _ => 0,
        ["extra_fee"] = _ => 0,
        ["price_usd"] = _ => 0,
    };

    private static readonly Dictionary<string, Func<NodeRow, string>> TextKeys = new(StringComparer.Ordinal)
    {
        ["country"] = r => r.Node.Location.Country,
        ["city"] = r => r.Node.Location.City,
        ["farm_name"] = r => r.Farm?.Name ?? "",
    };

    /// <summary>Every <c>sort_by</c> key of the grid proxy's <c>types.Node</c> (plus <c>farm_name</c>, which its client offers).</summary>
    public static readonly string[] SortKeys = [.. NumericKeys.Keys, .. TextKeys.Keys];

    public static readonly IComparer<NodeRow> ByNodeId = Comparer<NodeRow>.Create((a, b) => a.Node.NodeId.CompareTo(b.Node.NodeId));

    public static string Status(NodeStatus status) => status switch
    {
        NodeStatus.Down => "down",
        NodeStatus.Standby => "standby",
        _ => "up", // draining nodes are up: they heartbeat, they only take no new work
    };

    public static IComparer<NodeRow> ComparerFor(string sortBy)
    {
        if (TextKeys.TryGetValue(sortBy, out var text))
        {
            return Comparer<NodeRow>.Create((a, b) =>
            {
                var c = string.Compare(text(a), text(b), StringComparison.OrdinalIgnoreCase);
                return c != 0 ? c : a.Node.NodeId.CompareTo(b.Node.NodeId);
            });
        }

        var key = NumericKeys[sortBy];
        return Comparer<NodeRow>.Create((a, b) =>
        {
            var c = key(a).CompareTo(key(b));
            return c != 0 ? c : a.Node.NodeId.CompareTo(b.Node.NodeId);
        });
    }

    /// <summary>Every node of the view joined with its farm.</summary>
    public static IEnumerable<NodeRow> Rows(CapacityView view, FarmDirectory farms)
    {
        // One directory lookup per farm, not per node.
        var known = new Dictionary<long, (FarmRow? Farm, int FreeIps)>();
        foreach (var node in view.Nodes)
        {
            if (!known.TryGetValue(node.FarmId, out var farm))
            {
                farms.TryGet(node.FarmId, out var info);
                known[node.FarmId] = farm = (info, info?.FreeIps ?? 0);
            }

            yield return new NodeRow(node, farm.Farm, farm.FreeIps);
        }
    }

    /// <summary>The filter the query asks for; problems are recorded on <paramref name="query"/>.</summary>
    public static Func<NodeRow, bool> Filter(ProxyQuery query)
    {
        var tests = new List<Func<NodeRow, bool>>();
        if (query.OneOf("status", Statuses) is { } statuses)
        {
            tests.Add(r => statuses.Contains(Status(r.Node.Status)));
        }

        AtLeast(query, tests, "free_mru", r => r.Node.Free.Mru);
        AtLeast(query, tests, "free_hru", r => r.Node.Free.Hru);
        AtLeast(query, tests, "free_sru", r => r.Node.Free.Sru);
        AtLeast(query, tests, "total_mru", r => r.Node.Total.Mru);
        AtLeast(query, tests, "total_hru", r => r.Node.Total.Hru);
        AtLeast(query, tests, "total_sru", r => r.Node.Total.Sru);
        AtLeast(query, tests, "total_cru", r => r.Node.Total.Cru);
        AtLeast(query, tests, "free_ips", r => r.FarmFreeIps);
        Text(query, tests, "country", r => r.Node.Location.Country, contains: false);
        Text(query, tests, "country_contains", r => r.Node.Location.Country, contains: true);
        Text(query, tests, "city", r => r.Node.Location.City, contains: false);
        Text(query, tests, "city_contains", r => r.Node.Location.City, contains: true);
        Text(query, tests, "farm_name", r => r.Farm?.Name ?? "", contains: false);
        Text(query, tests, "farm_name_contains", r => r.Farm?.Name ?? "", contains: true);
        Text(query, tests, "certification_type", r => r.Node.Certification.ToString(), contains: false);
        Equal(query, tests, "node_id", r => r.Node.NodeId);
        Equal(query, tests, "twin_id", r => r.Node.TwinId);
        Equal(query, tests, "owned_by", r => r.Farm?.TwinId ?? r.Node.TwinId);
        if (query.NaturalList("farm_ids") is { } farmIds)
        {
            tests.Add(r => farmIds.Contains(r.Node.FarmId));
        }

        if (query.NaturalList("node_ids") is { } nodeIds)
        {
            tests.Add(r => nodeIds.Contains(r.Node.NodeId));
        }

        if (query.NaturalList("excluded") is { } excluded)
        {
            tests.Add(r => !excluded.Contains(r.Node.NodeId));
        }

        if (query.Bool("healthy") is { } healthy)
        {
            tests.Add(r => (r.Node.Status is NodeStatus.Up or NodeStatus.Draining) == healthy);
        }

        NeutralFilters(query, tests);
        return tests.Count == 0 ? _ => true : r =>
        {
            foreach (var test in tests)
            {
                if (!test(r))
                {
                    return false;
                }
            }

            return true;
        };
    }

    /// <summary>
    /// Filters on what this grid does not have (public config, dedicated farms, renting, GPUs, prices, regions,
    /// features): every node has the neutral value, so a filter asking for it keeps all nodes and any other keeps none.
    /// </summary>
    private static void NeutralFilters(ProxyQuery query, List<Func<NodeRow, bool>> tests)
    {
        foreach (var name in (string[])["ipv4", "ipv6", "domain", "dedicated", "in_dedicated_farm", "rentable", "rented", "has_gpu", "gpu_available", "has_ipv6"])
        {
            if (query.Bool(name) == true)
            {
                tests.Add(_ => false);
            }
        }

        foreach (var name in (string[])["rented_by", "rentable_or_rented_by"])
        {
            if (query.Natural(name) is > 0)
            {
                tests.Add(_ => false);
            }
        }

        // Nothing is rented and no farm is dedicated: every node is available to every twin.
        query.Natural("available_for");
        if (query.Natural("num_gpu") is > 0)
        {
            tests.Add(_ => false);
        }

        foreach (var name in (string[])["gpu_device_id", "gpu_device_name", "gpu_vendor_id", "gpu_vendor_name", "region"])
        {
            if (query.Text(name) is not null)
            {
                tests.Add(_ => false);
            }
        }

        if (query.Number("price_min") is > 0)
        {
            tests.Add(_ => false);
        }

        if (query.Number("price_max") is < 0)
        {
            tests.Add(_ => false);
        }

        if (query.List("features") is { Length: > 0 } features)
        {
            var unknown = features.FirstOrDefault(f => !Features.Contains(f, StringComparer.Ordinal));
            if (unknown is not null)
            {
                query.Fail("features", $"'{unknown}' is not a valid node feature.");
            }

            tests.Add(_ => false);
        }
    }

    private static void AtLeast(ProxyQuery query, List<Func<NodeRow, bool>> tests, string name, Func<NodeRow, long> value)
    {
        if (query.Natural(name) is { } min)
        {
            tests.Add(r => value(r) >= min);
        }
    }

    private static void Equal(ProxyQuery query, List<Func<NodeRow, bool>> tests, string name, Func<NodeRow, long> value)
    {
        if (query.Natural(name) is { } wanted)
        {
            tests.Add(r => value(r) == wanted);
        }
    }

    private static void Text(ProxyQuery query, List<Func<NodeRow, bool>> tests, string name, Func<NodeRow, string> value, bool contains)
    {
        if (query.Text(name) is not { } wanted)
        {
            return;
        }

        tests.Add(contains
            ? r => value(r).Contains(wanted, StringComparison.OrdinalIgnoreCase)
            : r => value(r).Equals(wanted, StringComparison.OrdinalIgnoreCase));
    }

    private static long StatusRank(NodeStatus status) => status switch
    {
        NodeStatus.Down => 3,
        NodeStatus.Standby => 2,
        _ => 1,
    };
}
