using System.Text.Json.Nodes;
using Grid.EndToEnd.Tests;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.Console.Tests;

/// <summary>
/// The economy dashboard against a real Prometheus scraping a real prepaid host with a 10 s billing cycle: a tenant
/// funded for about two and a half cycles is billed until its reservation goes to grace, and then every panel query
/// has data and the billed, credited and in-grace figures are the ones the API's bills and accounts show.
/// </summary>
public sealed class EconomyDashboardTests(ITestOutputHelper output)
{
    private const string OperatorKey = "operator-key-of-the-economy-dashboard-test";
    private const long CycleSeconds = 10;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task EveryEconomyPanelHasDataAndShowsWhatTheBillsAndAccountsSay()
    {
        await using var grid = new GridProcesses();
        await grid.StartHostAsync("--Grid:Health:HeartbeatInterval=00:00:00.500", "--Grid:Health:HeartbeatTimeout=00:00:05",
            "--Grid:Billing:Mode=prepaid", $"--Grid:Billing:Cycle=00:00:{CycleSeconds}", "--Grid:Billing:SettleDelay=00:00:00",
            "--Grid:Billing:TickInterval=00:00:00.500", $"--Grid:Billing:OperatorKey={OperatorKey}");
        await using var prometheus = await PrometheusServer.StartAsync(Dashboards.Job, grid.Api);

        var farmer = await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "economy-farmer" }, 201);
        var farmerKey = farmer["apiKey"]!.GetValue<string>();
        var farmId = (await grid.SendAsync(HttpMethod.Post, "/api/v1/farms", farmerKey, new { name = "economy-farm" }, 201))["farmId"]!.GetValue<long>();
        using var heartbeats = new CancellationTokenSource();
        var loops = new List<Task>();
        for (var i = 0; i < 2; i++)
        {
            var node = await grid.SendAsync(HttpMethod.Post, "/api/v1/nodes", farmerKey, new
            {
                farmId,
                resources = new { cru = 8, mru = 16L << 30, sru = 100L << 30, hru = 1L << 40 },
                location = new { country = "Belgium", city = "Ghent" },
            }, 201);
            loops.Add(ObservabilityTests.HeartbeatAsync(grid, node["nodeId"]!.GetValue<long>(), node["nodeKey"]!.GetValue<string>(), heartbeats.Token));
        }

        try
        {
            var tenant = await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "economy-tenant" }, 201);
            var tenantKey = tenant["apiKey"]!.GetValue<string>();
            var request = new { resources = new { cru = 2, mru = 4L << 30, sru = 20L << 30 } };
            await Poll.UntilAsync(async () => (await grid.SendAsync(HttpMethod.Get, "/api/v1/grid/overview", null, null, 200))["nodes"]!["up"]!.GetValue<int>() == 2,
                Wait, "two nodes up");

            // Funds for two and a half cycles: enough to place (one cycle), not enough to stay.
            var pricePerHour = (await grid.SendAsync(HttpMethod.Post, "/api/v1/quotes", tenantKey, request, 200))["pricePerHour"]!.GetValue<long>();
            var deposit = pricePerHour * CycleSeconds * 5 / 2 / 3600;
            await grid.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{tenant["twinId"]!.GetValue<long>()}/deposits", OperatorKey, new { amount = deposit }, 200);
            var reservationId = (await grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", tenantKey, request, 201))["reservationId"]!.GetValue<long>();
            await Poll.UntilAsync(async () => (await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{reservationId}", tenantKey, null, 200))["state"]!.GetValue<string>() == "grace",
                Wait, $"reservation {reservationId} runs out of funds and goes to grace");

            // In grace nothing more is billed: the API's figures are final.
            var bills = (await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{reservationId}/bills", tenantKey, null, 200)).AsArray();
            var billed = bills.Sum(b => b!["amount"]!.GetValue<long>());
            var lines = bills.Sum(b => b!["lines"]!.AsArray().Count);
            var spent = (await grid.SendAsync(HttpMethod.Get, "/api/v1/account", tenantKey, null, 200))["spent"]!.GetValue<long>();
            var earned = (await grid.SendAsync(HttpMethod.Get, "/api/v1/account", farmerKey, null, 200))["earned"]!.GetValue<long>();
            output.WriteLine($"price {pricePerHour}/h, deposit {deposit}, {bills.Count} bills of {billed}, spent {spent}, farmer earned {earned}");
            Assert.True(bills.Count >= 2, $"two or more cycles were billed before grace, not {bills.Count}");
            Assert.Equal(billed, spent);

            await Poll.UntilAsync(async () => await prometheus.ScalarAsync("sum(grid_billing_accounts_in_grace)") == 1
                && await prometheus.ScalarAsync("sum(grid_billing_billed_total)") == billed
                && await prometheus.ScalarAsync("sum(grid_ledger_appends_total)") == await CountLedgerAsync(grid)
                // A rate needs two samples of a series; the billing counters appear with the first bill.
                && await prometheus.ScalarAsync($"min(count_over_time(grid_billing_credits_total[{Dashboards.RateInterval}]))") >= 2,
                Wait, "Prometheus scrapes the bills and the grace");

            Assert.Null(await Dashboards.PanelsWithoutDataAsync(prometheus, uid => uid == Dashboards.Economy));

            Assert.Equal(lines, await prometheus.ScalarAsync($"sum(grid_billing_bills_total{{farm=\"{farmId}\"}})"));
            Assert.Equal(billed, await prometheus.ScalarAsync($"sum(grid_billing_billed_total{{farm=\"{farmId}\"}})"));
            Assert.Equal(earned, await prometheus.ScalarAsync("sum(grid_billing_credits_total{to=\"farmer\"})"));
            Assert.Equal(billed, await prometheus.ScalarAsync("sum(grid_billing_credits_total)"));
            Assert.Equal(1, await prometheus.ScalarAsync("sum(grid_billing_grace)"));
            // Appends take milliseconds: with the exporter's default buckets (0, 5, 10 … s) this read ≈ 5 s.
            var p99 = await prometheus.ScalarAsync("histogram_quantile(0.99, sum by (le) (grid_ledger_append_duration_seconds_bucket))");
            Assert.InRange(p99!.Value, 0.0, 2.5);
        }
        finally
        {
            await heartbeats.CancelAsync();
            await Task.WhenAll(loops);
        }
    }

    private static async Task<long> CountLedgerAsync(GridProcesses grid)
    {
        long count = 0;
        for (long from = 1; ;)
        {
            var page = await grid.SendAsync(HttpMethod.Get, $"/api/v1/ledger?from={from}&limit=1000", null, null, 200);
            var entries = page["entries"]!.AsArray().Count;
            if (entries == 0)
            {
                return count;
            }

            count += entries;
            from = page["next"]!.GetValue<long>();
        }
    }
}
