using System.Net;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>A twin's API keys: several, named, limited to some roles, revocable, never shown twice.</summary>
[Collection(GridAppCollection.Name)]
public sealed class ApiKeyTests(GridAppFixture fixture)
{
    private readonly GridClient _grid = fixture.Client;

    [Fact]
    public async Task KeysAreNamedLimitedToTheirRolesAndStopWorkingWhenRevoked()
    {
        var (_, key) = await _grid.CreateTwinAsync("keys");
        var ci = await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/keys", key, new { name = "ci", roles = new[] { "tenant" } }, HttpStatusCode.Created);
        var ciKey = ci["apiKey"]!.GetValue<string>();
        var ciId = ci["keyId"]!.GetValue<long>();

        Assert.Equal(HttpStatusCode.OK, (await _grid.SendAsync(HttpMethod.Get, "/api/v1/reservations", ciKey, null)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await _grid.SendAsync(HttpMethod.Post, "/api/v1/farms", ciKey, new { name = "f" })).Status);
        var (escalation, _) = await _grid.SendAsync(HttpMethod.Post, "/api/v1/keys", ciKey, new { name = "more", roles = new[] { "farmer" } });
        Assert.Equal(HttpStatusCode.BadRequest, escalation);

        var listed = (await _grid.GetAsync("/api/v1/keys", key)).AsArray();
        Assert.Equal(["default", "ci"], listed.Select(k => k!["name"]!.GetValue<string>()));
        Assert.DoesNotContain(ciKey, listed.ToJsonString(), StringComparison.Ordinal);
        Assert.All(listed, k => Assert.Null(k!["apiKey"]));

        await _grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/keys/{ciId}", key, null, HttpStatusCode.NoContent);
        var (revoked, problem) = await _grid.SendAsync(HttpMethod.Get, "/api/v1/reservations", ciKey, null);
        Assert.Equal(HttpStatusCode.Unauthorized, revoked);
        Assert.Contains("revoked", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotNull((await _grid.GetAsync("/api/v1/keys", key)).AsArray().Single(k => k!["keyId"]!.GetValue<long>() == ciId)!["revokedAt"]);

        // The first key can be revoked too, once another key exists to act with.
        var spare = (await _grid.SendOkAsync(HttpMethod.Post, "/api/v1/keys", key, new { name = "spare" }, HttpStatusCode.Created))["apiKey"]!.GetValue<string>();
        await _grid.SendOkAsync(HttpMethod.Delete, "/api/v1/keys/1", spare, null, HttpStatusCode.NoContent);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _grid.SendAsync(HttpMethod.Get, "/api/v1/farms", key, null)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _grid.SendAsync(HttpMethod.Get, "/api/v1/farms", spare, null)).Status);
    }
}
