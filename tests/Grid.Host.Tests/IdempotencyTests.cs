using System.Net;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>What a retried reservation with the same Idempotency-Key answers when the retry asks for something else.</summary>
[Collection(GridAppCollection.Name)]
public sealed class IdempotencyTests(GridAppFixture fixture)
{
    private readonly GridClient _grid = fixture.Client;

    [Fact]
    public async Task ARetryWithAnotherPriceCapIsRejectedAndPlacesNothing()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, _) = await _grid.UpNodeAsync(key, farm);
        object Request(long maxPricePerHour) => new
        {
            resources = new { cru = 1, mru = GiB },
            constraints = new { farmIds = new[] { farm }, maxPricePerHour },
        };

        var first = await _grid.ReserveAsync(key, Request(1_000_000), "price-cap");
        var same = await _grid.ReserveAsync(key, Request(1_000_000), "price-cap");
        var cheaper = await _grid.ReserveAsync(key, Request(999_999), "price-cap");

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(first.Body!["reservationId"]!.GetValue<long>(), same.Body!["reservationId"]!.GetValue<long>());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, cheaper.Status);
        Assert.Single((await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key))["allocations"]!.AsArray());
    }
}
