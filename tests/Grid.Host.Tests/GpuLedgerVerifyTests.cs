using System.Net;
using Grid.Testing;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>
/// The real <c>grid ledger verify</c> (the CLI as a child process) over a ledger holding GPU bill lines: the hash chain,
/// and the tenant's account as the API shows it against the fold of the entries.
/// </summary>
public sealed class GpuLedgerVerifyTests
{
    [Fact]
    public async Task TheLedgerWithGpuBillLinesVerifies()
    {
        // Ten-second cycles billed at once: a GPU line is in the ledger within a cycle of the placement.
        await using var app = await GridApp.StartAsync(
            "--Grid:Billing:Cycle=00:00:10", "--Grid:Billing:SettleDelay=00:00:00", "--Grid:Billing:TickInterval=00:00:01", "--Grid:Billing:GpuPrice=3600000");
        var grid = new GridClient(app.Client);
        var (_, farmer) = await grid.CreateTwinAsync("farmer");
        var farm = await grid.CreateFarmAsync(farmer);
        var node = await grid.SendOkAsync(HttpMethod.Post, "/api/v1/nodes", farmer, new
        {
            farmId = farm,
            resources = new { cru = 8, mru = 16 * GiB, sru = 100 * GiB, hru = 0 },
            location = new { country = "Belgium", city = "Ghent", latitude = 51.05, longitude = 3.72 },
            gpus = new[] { new { id = "0000:01:00.0", vendor = "NVIDIA Corporation", device = "GA100 [A100 PCIe 40GB]", memory = 40960 } },
        }, HttpStatusCode.Created);
        var (nodeId, nodeKey) = (node["nodeId"]!.GetValue<long>(), node["nodeKey"]!.GetValue<string>());
        await grid.HeartbeatAsync(nodeId, nodeKey);
        var (_, tenant) = await grid.CreateTwinAsync();
        var (status, reservation) = await grid.ReserveAsync(tenant, new { resources = new { cru = 1, mru = GiB, gpu = 1 }, constraints = new { farmIds = new[] { farm } } });
        Assert.Equal(HttpStatusCode.Created, status);
        var id = reservation!["reservationId"]!.GetValue<long>();

        await Poll.UntilAsync(async () =>
        {
            await grid.HeartbeatAsync(nodeId, nodeKey);   // the meter runs while the node is up
            return (await grid.GetAsync($"/api/v1/reservations/{id}/bills", tenant)).AsArray()
                .Any(b => b!["lines"]!.AsArray().Any(l => l!["kind"]?.GetValue<string>() == "gpu" && l["amount"]!.GetValue<long>() > 0));
        }, TimeSpan.FromSeconds(60), "a bill with a GPU line");
        await grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/reservations/{id}", tenant, null, HttpStatusCode.NoContent);

        var (code, output) = await ChildProcess.RunAsync("dotnet",
            [BuiltApp.PathOf("Grid.Cli", "grid.dll"), "ledger", "verify", "--api", app.Address.ToString().TrimEnd('/'), "--api-key", tenant], TimeSpan.FromSeconds(60));
        Assert.True(code == 0, output);
        Assert.Contains("ledger verified", output, StringComparison.Ordinal);
    }
}
