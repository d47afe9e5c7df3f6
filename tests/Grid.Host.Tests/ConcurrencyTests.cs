using System.Net;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>Capacity is never overbooked, however many requests race for it.</summary>
public sealed class ConcurrencyTests
{
    [Fact]
    public async Task FiveHundredConcurrentRequestsForRoomForOneHundredPlaceExactlyOneHundred()
    {
        await using var app = await GridApp.StartAsync();
        var grid = new GridClient(app.Client);
        var (_, key) = await grid.CreateTwinAsync();
        var farm = await grid.CreateFarmAsync(key);
        var nodes = new List<long>();
        for (var i = 0; i < 10; i++)
        {
            // Room for exactly 10 reservations of 1 core / 1 GiB on each of the 10 nodes.
            nodes.Add((await grid.UpNodeAsync(key, farm, cru: 10, mru: 10 * GiB)).NodeId);
        }

        using var start = new SemaphoreSlim(0);
        var requests = Enumerable.Range(0, 500).Select(async _ =>
        {
            await start.WaitAsync();
            return await grid.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB } });
        }).ToList();
        start.Release(500);
        var results = await Task.WhenAll(requests);

        Assert.Equal(100, results.Count(r => r.Status == HttpStatusCode.Created));
        Assert.Equal(400, results.Count(r => r.Status == HttpStatusCode.Conflict));
        var placed = results.Where(r => r.Status == HttpStatusCode.Created).Select(r => r.Body!["reservationId"]!.GetValue<long>()).ToHashSet();
        var allocated = new List<long>();
        foreach (var nodeId in nodes)
        {
            var node = await grid.GetAsync($"/api/v1/nodes/{nodeId}", key);
            Assert.True(node["used"]!["mru"]!.GetValue<long>() <= node["total"]!["mru"]!.GetValue<long>());
            Assert.True(node["used"]!["cru"]!.GetValue<long>() <= node["total"]!["cru"]!.GetValue<long>());
            allocated.AddRange(node["allocations"]!.AsArray().Select(a => a!["reservationId"]!.GetValue<long>()));
        }

        Assert.Equal(100, allocated.Count);
        Assert.True(placed.SetEquals(allocated));
    }
}
