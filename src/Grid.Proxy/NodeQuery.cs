using Grid.Scheduling;

namespace Grid.Proxy;

/// <summary>A node with what the grid proxy joins to it: its farm (if known yet) and the farm's free addresses.</summary>
public readonly record struct NodeRow(NodeSummary Node, FarmRow? Farm, int FarmFreeIps);

/// <summary>
/// <c>/nodes</c> answered from this silo's capacity view (through its <see cref="NodeIndex"/> copy): the grid proxy's
/// filters and sort keys, evaluated in memory, never by calling node grains. A page scans the candidates once with
/// one <see cref="NodeFilter"/>, counts the matches and keeps only the best <c>page × size</c> of them by the sort key
/// (a bounded heap), so a page over 100k nodes sorts a hundred rows, not the matches.
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
        ["used_sru"] = r => r.Node.Used.Sru + r.Node.ImageCacheSru,
        ["used_hru"] = r => r.Node.Used.Hru,
        ["free_cru"] = r => r.Node.Total.Cru - r.Node.Used.Cru,
        ["status"] = r => StatusRank(r.Node.Status),
        ["rent_contract_id"] = r => r.Node.RentContractId ?? 0,
        ["rented"] = r => r.Node.RentedBy is null ? 0 : 1,
        ["rentable"] = r => RentState.Rentable(r.Node) ? 1 : 0,
        // No dedicated farms, extra fees or prices on this grid: all equal.
        ["dedicated_farm"] = _ => 0,
        ["num_gpu"] = r => r.Node.Gpus.IsDefault ? 0 : r.Node.Gpus.Length,
        ["extra_fee"] = _ => 0,
        ["price_usd"] = _ => 0,
    };

    private static readonly string[] TextKeys = ["country", "city", "farm_name"];

    /// <summary>Every <c>sort_by</c> key of the grid proxy's <c>types.Node</c> (plus <c>farm_name</c>, which its client offers).</summary>
    public static readonly string[] SortKeys = [.. NumericKeys.Keys, .. TextKeys];

    public static string Status(NodeStatus status) => status switch
    {
        NodeStatus.Down => "down",
        NodeStatus.Standby => "standby",
        _ => "up", // draining nodes are up: they heartbeat, they only take no new work
    };

    /// <summary>
    /// The page <paramref name="limit"/> asks for among the entries <paramref name="filter"/> passes, and how many pass.
    /// Sorted by the key, ties by node id, both reversed for <c>desc</c>; by node id without <c>sort_by</c>.
    /// </summary>
    public static (List<NodeRow> Page, int Count) Page(NodeSnapshot snapshot, NodeFilter filter, ProxyLimit limit, FarmDirectory farms)
    {
        var bound = filter.Bind(snapshot, farms);
        var entries = snapshot.Entries;
        var candidates = bound.Candidates;
        var total = candidates?.Length ?? entries.Length;
        if (limit.Randomize)
        {
            var matches = new List<int>();
            for (var i = 0; i < total; i++)
            {
                var index = candidates is null ? i : candidates[i];
                if (bound.Matches(in entries[index]))
                {
                    matches.Add(index);
                }
            }

            var shuffled = matches.ToArray();
            Random.Shared.Shuffle(shuffled);
            return ([.. shuffled.Skip(limit.Skip).Take(limit.Size).Select(i => Row(entries[i].Node, farms))], matches.Count);
        }

        // One pass: count every match and keep the best skip + size of them (no list of the matches). Entries are in
        // the order nodes joined, mostly by id: a descending page walks them backwards, so a node tied on the key with
        // one already kept (lower id, later in the walk) is not better and costs no heap change.
        var keys = KeyOf(limit.SortBy, snapshot, farms);
        var ids = snapshot.Ids;
        var descending = limit.SortBy is not null && limit.Descending;
        var best = new Best((int)Math.Min((long)limit.Skip + limit.Size, total), descending);
        var count = 0;
        for (var step = 0; step < total; step++)
        {
            var i = descending ? total - 1 - step : step;
            var index = candidates is null ? i : candidates[i];
            if (bound.Matches(in entries[index]))
            {
                count++;
                best.Offer(index, keys[index], ids[index]);
            }
        }

        return ([.. best.InOrder().Skip(limit.Skip).Select(i => Row(entries[i].Node, farms))], count);
    }

    public static NodeRow Row(NodeSummary node, FarmDirectory farms) =>
        farms.TryGet(node.FarmId, out var farm) ? new NodeRow(node, farm, farm.FreeIps) : new NodeRow(node, null, 0);

    /// <summary>
    /// The first <c>count</c> entries offered, in order: a bounded heap whose top is the worst kept, so an entry no better
    /// than that (most of them, once the heap is full) costs one comparison of two numbers.
    /// </summary>
    private sealed class Best(int count, bool descending)
    {
        private readonly KeyOrder _order = new(descending);
        private readonly PriorityQueue<int, (long Key, long Id)> _heap = new(count + 1, new KeyOrder(!descending));
        private (long Key, long Id) _worst;

        public void Offer(int index, long key, long id)
        {
            if (_heap.Count < count)
            {
                _heap.Enqueue(index, (key, id));
            }
            else if (count > 0 && _order.Compare((key, id), _worst) < 0)
            {
                _heap.DequeueEnqueue(index, (key, id));
            }
            else
            {
                return;
            }

            if (_heap.Count == count)
            {
                _heap.TryPeek(out _, out _worst);
            }
        }

        public int[] InOrder()
        {
            var best = new int[_heap.Count];
            for (var i = best.Length - 1; _heap.TryDequeue(out var index, out _); i--)
            {
                best[i] = index;
            }

            return best;
        }
    }

    /// <summary>The sort key of an entry as a number: texts by their case-insensitive rank, the rest from the summary.</summary>
    private static long[] KeyOf(string? sortBy, NodeSnapshot snapshot, FarmDirectory farms)
    {
        switch (sortBy)
        {
            case null or "node_id":
                return snapshot.Ids;
            case "country":
                return snapshot.ColumnOf(sortBy, e => snapshot.Countries.Ranks[e.Country]);
            case "city":
                return snapshot.ColumnOf(sortBy, e => snapshot.Cities.Ranks[e.City]);
            case "farm_name":
                // Farms change apart from the copy: ranked per request. A node whose farm is not known yet sorts as "".
                var names = farms.Farms.Select(f => f.Name).Append("").ToArray();
                var ranks = NodeSnapshot.Names.Rank(names);
                var rankOf = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
                for (var n = 0; n < names.Length; n++)
                {
                    rankOf[names[n]] = Math.Min(ranks[n], rankOf.GetValueOrDefault(names[n], int.MaxValue));
                }

                return Array.ConvertAll(snapshot.Entries, e => (long)rankOf[farms.NameOf(e.FarmId)]);
            default:
                var key = NumericKeys[sortBy];
                return snapshot.ColumnOf(sortBy, e => key(new NodeRow(e.Node, null, 0)), ofSummary: true);
        }
    }

    /// <summary>By key, then node id; both reversed when descending.</summary>
    private sealed class KeyOrder(bool descending) : IComparer<(long Key, long Id)>
    {
        public int Compare((long Key, long Id) a, (long Key, long Id) b)
        {
            var c = a.Key != b.Key ? a.Key.CompareTo(b.Key) : a.Id.CompareTo(b.Id);
            return descending ? -c : c;
        }
    }

    /// <summary>The filter the query asks for; problems are recorded on <paramref name="query"/>.</summary>
    public static NodeFilter Filter(ProxyQuery query)
    {
        var filter = new NodeFilter
        {
            MinFreeMru = query.Natural("free_mru") ?? long.MinValue,
            MinFreeHru = query.Natural("free_hru") ?? long.MinValue,
            MinFreeSru = query.Natural("free_sru") ?? long.MinValue,
            MinTotalMru = query.Natural("total_mru") ?? long.MinValue,
            MinTotalHru = query.Natural("total_hru") ?? long.MinValue,
            MinTotalSru = query.Natural("total_sru") ?? long.MinValue,
            MinTotalCru = query.Natural("total_cru") ?? long.MinValue,
            MinFreeIps = query.Natural("free_ips"),
            Country = query.Text("country"),
            CountryContains = query.Text("country_contains"),
            City = query.Text("city"),
            CityContains = query.Text("city_contains"),
            FarmName = query.Text("farm_name"),
            FarmNameContains = query.Text("farm_name_contains"),
            NodeId = query.Natural("node_id"),
            TwinId = query.Natural("twin_id"),
            OwnedBy = query.Natural("owned_by"),
            FarmIds = query.NaturalList("farm_ids"),
            NodeIds = query.NaturalList("node_ids"),
            Excluded = query.NaturalList("excluded"),
            Rentable = query.Bool("rentable"),
            Rented = query.Bool("rented"),
            RentedBy = query.Natural("rented_by"),
            RentableOrRentedBy = query.Natural("rentable_or_rented_by"),
            AvailableFor = query.Natural("available_for"),
            HasGpu = query.Bool("has_gpu"),
            GpuAvailable = query.Bool("gpu_available"),
            GpuVendorName = query.Text("gpu_vendor_name"),
            GpuDeviceName = query.Text("gpu_device_name"),
            MinNumGpu = query.Natural("num_gpu"),
        };
        if (query.OneOf("status", Statuses) is { } statuses)
        {
            filter.StatusMask = NodeFilter.StatusMaskOf(statuses);
        }

        if (query.Bool("healthy") is { } healthy)
        {
            // Healthy = up or draining (the nodes whose status answers "up").
            filter.StatusMask &= healthy ? NodeFilter.StatusMaskOf(["up"]) : ~NodeFilter.StatusMaskOf(["up"]);
        }

        if (query.Text("certification_type") is { } certification)
        {
            filter.CertificationMask = Enum.GetValues<NodeCertification>()
                .Where(c => c.ToString().Equals(certification, StringComparison.OrdinalIgnoreCase))
                .Aggregate(0, (mask, c) => mask | (1 << (int)c));
        }

        filter.MatchesNothing = AsksForWhatNoNodeHas(query);
        return filter;
    }

    /// <summary>
    /// Filters on what this grid does not have (public config, dedicated farms, GPU PCI ids, prices, regions,
    /// features): every node has the neutral value, so a filter asking for it keeps all nodes and any other keeps none.
    /// Every one is read (and so validated) even once one is found.
    /// </summary>
    private static bool AsksForWhatNoNodeHas(ProxyQuery query)
    {
        var none = false;
        foreach (var name in (string[])["ipv4", "ipv6", "domain", "dedicated", "in_dedicated_farm", "has_ipv6"])
        {
            none |= query.Bool(name) == true;
        }

        // GPUs are listed by name (the vendor's and device's numeric PCI ids are not kept): an id filter matches none.
        foreach (var name in (string[])["gpu_device_id", "gpu_vendor_id", "region"])
        {
            none |= query.Text(name) is not null;
        }

        none |= query.Number("price_min") is > 0;
        none |= query.Number("price_max") is < 0;
        if (query.List("features") is { Length: > 0 } features)
        {
            var unknown = features.FirstOrDefault(f => !Features.Contains(f, StringComparer.Ordinal));
            if (unknown is not null)
            {
                query.Fail("features", $"'{unknown}' is not a valid node feature.");
            }

            none = true;
        }

        return none;
    }

    private static long StatusRank(NodeStatus status) => status switch
    {
        NodeStatus.Down => 3,
        NodeStatus.Standby => 2,
        _ => 1,
    };
}
