using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Grid.Proxy;
using Grid.Scheduling;
using Grid.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>
/// The <c>/nodes</c> index (a compact copy of the capacity view, one pass per page with a bounded heap): every page of
/// a sorted, filtered list against a plain sort of the same nodes, before and after the nodes change; and on a running
/// host, a change shows in <c>/nodes</c> within a second at the default rebuild interval.
/// </summary>
public sealed class ProxyNodeIndexTests
{
    private static readonly string[] Countries = ["Belgium", "egypt", "Egypt", "Austria", "Kenya"];
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    public static TheoryData<string> Queries => new()
    {
        "sort_by=free_cru&sort_order=desc",
        "sort_by=free_cru&status=up&free_mru=8589934592",
        "sort_by=total_cru&sort_order=desc&country=EGYPT",
        "sort_by=country&sort_order=asc",
        "sort_by=country&sort_order=desc&status=down,standby",
        "sort_by=used_mru&sort_order=desc&country_contains=gyp",
        "sort_by=node_id&sort_order=desc&healthy=true",
        "status=up&total_cru=16",
    };

    [Theory]
    [MemberData(nameof(Queries))]
    public void EveryPageIsTheSortedMatchesCutInPagesBeforeAndAfterTheNodesChange(string parameters)
    {
        var view = new CapacityView();
        for (var i = 1; i <= 3_000; i++)
        {
            view.Update(Summary(i, used: i % 7, version: 1));
        }

        var first = AssertPagesAreTheSortedMatches(view, parameters, previous: null);

        // Half the nodes change (their used capacity, so their free CPU and memory; some move to a new country) and
        // nodes join; the next copy, built from the first (unchanged entries and sort columns carried), pages them anew.
        for (var i = 1; i <= 3_000; i += 2)
        {
            view.Update(Summary(i, used: (i * 13) % 9, version: 2, country: i % 3 == 0 ? "Chile" : null));
        }

        for (var i = 3_001; i <= 3_100; i++)
        {
            view.Update(Summary(i, used: i % 5, version: 1));
        }

        AssertPagesAreTheSortedMatches(view, parameters, first);
    }

    [Fact]
    public async Task AReservationShowsInNodesWithinASecondAtTheDefaultInterval()
    {
        await using var app = await GridApp.StartAsync(["--Grid:Limits:RateLimiting=false"]);
        var grid = new GridClient(app.Client);
        var (_, key) = await grid.CreateTwinAsync("farmer");
        var farm = await grid.CreateFarmAsync(key);
        var (nodeId, _) = await grid.UpNodeAsync(key, farm, cru: 8, mru: 16 * GiB);
        async Task<long> UsedCruAsync() =>
            JsonNode.Parse(await app.Client.GetStringAsync($"/nodes?node_id={nodeId}"))!.AsArray().SingleOrDefault()?["used_resources"]!["cru"]!.GetValue<long>() ?? -1;
        await Poll.UntilAsync(async () => await UsedCruAsync() == 0, TimeSpan.FromSeconds(20), "the node in /nodes");

        // Reads keep coming meanwhile (the index is rebuilt off the request path while it is read).
        var (status, _) = await grid.ReserveAsync(key, new { resources = new { cru = 3, mru = GiB }, constraints = new { nodeId } });
        Assert.Equal(HttpStatusCode.Created, status);
        var clock = Stopwatch.StartNew();
        await Poll.UntilAsync(async () => await UsedCruAsync() == 3, TimeSpan.FromSeconds(20), "the reservation in /nodes", maxPause: TimeSpan.FromMilliseconds(20));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"the reservation showed in /nodes after {clock.Elapsed.TotalMilliseconds:0} ms");
    }

    /// <summary>Pages of 37 (and one page of all) against LINQ over the summaries: same nodes, same order, same count.</summary>
    private static NodeSnapshot AssertPagesAreTheSortedMatches(CapacityView view, string parameters, NodeSnapshot? previous)
    {
        var farms = new FarmDirectory(new MemoryProxyReadStore(new ProxyReadModel()), Options.Create(new ProxyOptions()), TimeProvider.System, NullLogger<FarmDirectory>.Instance);
        var snapshot = NodeSnapshot.Build(view, previous);
        var (filter, limit) = Parse(parameters);
        var expected = Expected(view, parameters, limit);

        var paged = new List<long>();
        for (var page = 1; ; page++)
        {
            var (rows, count) = NodeQuery.Page(snapshot, filter, limit with { Page = page, Size = 37 }, farms);
            Assert.Equal(expected.Count, count);
            if (rows.Count == 0)
            {
                break;
            }

            paged.AddRange(rows.Select(r => r.Node.NodeId));
        }

        Assert.Equal(expected, paged);
        Assert.Equal(expected.Take(1000), NodeQuery.Page(snapshot, filter, limit with { Page = 1, Size = 1000 }, farms).Page.Select(r => r.Node.NodeId));
        Assert.NotEmpty(expected);
        return snapshot;
    }

    private static (NodeFilter Filter, ProxyLimit Limit) Parse(string parameters)
    {
        var query = new ProxyQuery(new QueryCollection(QueryHelpers.ParseQuery(parameters)), [.. NodeQuery.Filters, .. ProxyQuery.LimitParameters]);
        var filter = NodeQuery.Filter(query);
        var limit = query.Limit(NodeQuery.SortKeys);
        Assert.True(query.IsValid, parameters);
        return (filter, limit);
    }

    /// <summary>The plain answer: every summary tested field by field, sorted by the key then id (reversed for desc).</summary>
    private static List<long> Expected(CapacityView view, string parameters, ProxyLimit limit)
    {
        var q = QueryHelpers.ParseQuery(parameters);
        string? Get(string name) => q.TryGetValue(name, out var v) ? v.ToString() : null;
        var statuses = Get("status")?.Split(',');
        var matching = view.Nodes.Where(n =>
            (statuses is null || statuses.Contains(NodeQuery.Status(n.Status)))
            && (Get("healthy") is null || n.Status is NodeStatus.Up or NodeStatus.Draining)
            && (Get("free_mru") is not { } freeMru || n.Free.Mru >= long.Parse(freeMru, System.Globalization.CultureInfo.InvariantCulture))
            && (Get("total_cru") is not { } totalCru || n.Total.Cru >= long.Parse(totalCru, System.Globalization.CultureInfo.InvariantCulture))
            && (Get("country") is not { } country || n.Location.Country.Equals(country, StringComparison.OrdinalIgnoreCase))
            && (Get("country_contains") is not { } part || n.Location.Country.Contains(part, StringComparison.OrdinalIgnoreCase)));
        var keyed = matching.Select(n => (Key: limit.SortBy switch
        {
            "free_cru" => (n.Total.Cru - n.Used.Cru).ToString("D20", System.Globalization.CultureInfo.InvariantCulture),
            "total_cru" => n.Total.Cru.ToString("D20", System.Globalization.CultureInfo.InvariantCulture),
            "used_mru" => n.Used.Mru.ToString("D20", System.Globalization.CultureInfo.InvariantCulture),
            "country" => n.Location.Country,
            _ => n.NodeId.ToString("D20", System.Globalization.CultureInfo.InvariantCulture),
        }, n.NodeId)).OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase).ThenBy(k => k.NodeId).Select(k => k.NodeId).ToList();
        if (limit.SortBy is not null && limit.Descending)
        {
            keyed.Reverse();
        }

        return keyed;
    }

    private static NodeSummary Summary(int i, long used, long version, string? country = null)
    {
        var total = new Capacity(8 + (i % 3 * 8), (8L + (i % 4 * 8)) << 30, 1L << 40, 0);
        var usedCapacity = new Capacity(used, used << 30, 0, 0);
        var status = (i % 11) switch { 0 => NodeStatus.Down, 1 => NodeStatus.Standby, 2 => NodeStatus.Draining, _ => NodeStatus.Up };
        var created = T0.AddMinutes(i);
        return new NodeSummary(i, 1 + (i % 5), 1, status, false, null, total, CapacityMath.Free(total, usedCapacity, 1.0),
            new Location(country ?? Countries[i % Countries.Length], $"City {i % 17}"), NodeCertification.Diy, [], version, usedCapacity, created, created, created);
    }
}
