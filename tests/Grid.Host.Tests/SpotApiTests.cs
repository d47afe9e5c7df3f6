using System.Net;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary><c>"priority"</c> and <c>"spot"</c> over HTTP: validated, shown, priced, and a preemption seen by the tenant.</summary>
[Collection(GridAppCollection.Name)]
public sealed class SpotApiTests(GridAppFixture fixture)
{
    private readonly GridClient _grid = fixture.Client;

    [Theory]
    [InlineData(-1)]
    [InlineData(101)]
    public async Task APriorityOutside0To100Is400NamingItAndPlacesNothing(int priority)
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, _) = await _grid.UpNodeAsync(key, farm);

        var (status, body) = await _grid.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB }, constraints = new { farmIds = new[] { farm } }, priority });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("between 0 and 100", body!["errors"]!["priority"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty((await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key))["allocations"]!.AsArray());
    }

    [Fact]
    public async Task SpotIsQuotedAndBilledAt40PercentAndGivesWayToPriority90WithEventsSayingByWhom()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, _) = await _grid.UpNodeAsync(key, farm, cru: 4, mru: 8 * GiB);
        var ask = new { resources = new { cru = 4, mru = 8 * GiB }, constraints = new { farmIds = new[] { farm } } };
        var full = (await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/quotes", key, ask, HttpStatusCode.OK))["pricePerHour"]!.GetValue<long>();
        var quote = await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/quotes", key, new { ask.resources, ask.constraints, spot = true }, HttpStatusCode.OK);
        Assert.Equal(full * 4 / 10, quote["pricePerHour"]!.GetValue<long>());
        Assert.True(quote["spot"]!.GetValue<bool>());

        var (created, spot) = await _grid.ReserveAsync(key, new { ask.resources, ask.constraints, spot = true });
        Assert.Equal(HttpStatusCode.Created, created);
        Assert.Equal((true, 50, full * 4 / 10), (spot!["spot"]!.GetValue<bool>(), spot["priority"]!.GetValue<int>(), spot["pricePerHour"]!.GetValue<long>()));
        var spotId = spot["reservationId"]!.GetValue<long>();

        var (placed, high) = await _grid.ReserveAsync(key, new { ask.resources, ask.constraints, priority = 90 });
        Assert.Equal(HttpStatusCode.Created, placed);
        Assert.Equal((nodeId, 90), (high!["nodeId"]!.GetValue<long>(), high["priority"]!.GetValue<int>()));
        var highId = high["reservationId"]!.GetValue<long>();

        var preempted = await _grid.GetAsync($"/api/v1/reservations/{spotId}", key);
        Assert.Equal(("preempted", highId), (preempted["state"]!.GetValue<string>(), preempted["preemptedBy"]!.GetValue<long>()));
        var events = (await _grid.GetAsync($"/api/v1/reservations/{spotId}/events", key)).AsArray();
        Assert.Contains(events, e => e!["kind"]!.GetValue<string>() == "preempted"
            && e["message"]!.GetValue<string>().Contains($"by reservation {highId}", StringComparison.Ordinal));
        var node = await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key);
        Assert.Equal([highId], node["allocations"]!.AsArray().Select(a => a!["reservationId"]!.GetValue<long>()));

        await _grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/reservations/{spotId}", key, null, HttpStatusCode.NoContent);
        await _grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/reservations/{highId}", key, null, HttpStatusCode.NoContent);
    }
}
