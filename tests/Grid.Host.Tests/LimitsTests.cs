using System.Net;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>Rate limits (429 with Retry-After) per twin and per IP, and per-twin quotas, on a host with low limits.</summary>
public sealed class LimitsTests : IAsyncLifetime
{
    private GridApp _app = null!;

    public async Task InitializeAsync() => _app = await GridApp.StartAsync(
        "--Grid:Limits:TwinRequestsPerSecond=1", "--Grid:Limits:TwinBurst=20",
        "--Grid:Limits:AnonymousRequestsPerSecondPerIp=1", "--Grid:Limits:AnonymousBurstPerIp=4",
        "--Grid:Limits:MaxReservationsPerTwin=1", "--Grid:Limits:MaxWorkloadsPerReservation=1");

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task CallersOverTheirRateGet429WithRetryAfterAndQuotasRefuseMore()
    {
        var grid = new GridClient(_app.Client);
        var (_, owner) = await grid.CreateTwinAsync("owner");
        var (_, other) = await grid.CreateTwinAsync("other");

        // Quotas: one reservation per twin, one workload per reservation.
        var farm = await grid.CreateFarmAsync(owner);
        await grid.UpNodeAsync(owner, farm);
        var reserve = new { resources = new { cru = 1, mru = GiB } };
        var reservation = (await grid.ReserveAsync(owner, reserve)).Body!["reservationId"]!.GetValue<long>();
        var (second, quota) = await grid.ReserveAsync(owner, reserve);
        Assert.Equal(HttpStatusCode.Conflict, second);
        Assert.Contains("MaxReservationsPerTwin", quota!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        await grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{reservation}/workloads", owner, new { name = "a", type = "vm" }, HttpStatusCode.Created);
        var (workload, _) = await grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservation}/workloads", owner, new { name = "b", type = "vm" });
        Assert.Equal(HttpStatusCode.Conflict, workload);

        // A cancelled reservation frees its place in the quota (once the count is refreshed).
        Assert.Equal(HttpStatusCode.NoContent, (await grid.SendAsync(HttpMethod.Delete, $"/api/v1/reservations/{reservation}", owner, null)).Status);
        await Grid.Testing.Poll.UntilAsync(async () => (await grid.ReserveAsync(owner, reserve)).Status == HttpStatusCode.Created,
            TimeSpan.FromSeconds(30), "a reservation is allowed again after the cancel");

        // The owner drains its bucket; the other twin is not slowed by it.
        using var limited = await UntilLimitedAsync(() => Get("/api/v1/farms", owner), 40);
        Assert.Equal("Too many requests", (await ProblemAsync(limited))["title"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await grid.SendAsync(HttpMethod.Get, "/api/v1/farms", other, null)).Status);

        // Anonymous callers are limited per IP address.
        using var anonymous = await UntilLimitedAsync(() => new HttpRequestMessage(HttpMethod.Get, "/api/v1/farms"), 10);
        Assert.Equal(429, (await ProblemAsync(anonymous))["status"]!.GetValue<int>());
    }

    private static HttpRequestMessage Get(string path, string key) =>
        new(HttpMethod.Get, path) { Headers = { Authorization = new("Bearer", key) } };

    private async Task<HttpResponseMessage> UntilLimitedAsync(Func<HttpRequestMessage> request, int attempts)
    {
        for (var i = 0; i < attempts; i++)
        {
            using var message = request();
            var response = await _app.Client.SendAsync(message);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "Retry-After in seconds");
                return response;
            }

            response.Dispose();
        }

        throw new Xunit.Sdk.XunitException($"no 429 after {attempts} requests");
    }

    private static async Task<System.Text.Json.Nodes.JsonNode> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }
}
