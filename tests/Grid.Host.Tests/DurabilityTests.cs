using System.Net;
using System.Text.Json.Nodes;
using Grid.Testing;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>Everything acknowledged survives a full restart of the host on PostgreSQL.</summary>
public sealed class DurabilityTests
{
    [Fact]
    public async Task FarmsNodesReservationsAndIpAssignmentsSurviveAFullHostRestartByteForByte()
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        var connection = await postgres.CreateDatabaseAsync("grid_restart");
        string[] settings = ["--Grid:Storage=postgres", $"--ConnectionStrings:Grid={connection}"];

        string key;
        string before;
        long usedIpReservation;
        long farm;
        long idempotent;
        await using (var first = await GridApp.StartAsync(settings))
        {
            var grid = new GridClient(first.Client);
            (_, key) = await grid.CreateTwinAsync("durable");
            var ips = Enumerable.Range(2, 4).Select(i => new { ip = $"185.69.166.{i}/24", gateway = "185.69.166.1" }).ToArray();
            farm = await grid.CreateFarmAsync(key, publicIps: ips, cpuOvercommit: 1.5);
            var (nodeId, _) = await grid.UpNodeAsync(key, farm, cru: 16, mru: 32 * GiB);
            await grid.UpNodeAsync(key, farm, cru: 8, mru: 16 * GiB, country: "Egypt");
            var reserved = await grid.ReserveAsync(key, new { resources = new { cru = 2, mru = 4 * GiB, ipv4 = 2 }, constraints = new { farmIds = new[] { farm } } });
            usedIpReservation = reserved.Body!["reservationId"]!.GetValue<long>();
            var cancelled = await grid.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB, ipv4 = 1 }, constraints = new { farmIds = new[] { farm } } });
            await grid.SendAsync(HttpMethod.Delete, $"/api/v1/reservations/{cancelled.Body!["reservationId"]}", key, null);
            idempotent = (await grid.ReserveAsync(key, IdempotentRequest(farm), "retry-me")).Body!["reservationId"]!.GetValue<long>();
            await grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{usedIpReservation}/workloads", key,
                new { name = "web", type = "process", process = new { command = "/bin/true" } }, HttpStatusCode.Created);
            await grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/drain", key, new { maxParallel = 1 }, HttpStatusCode.OK);
            await grid.SendOkAsync(HttpMethod.Delete, $"/api/v1/nodes/{nodeId}/drain", key, null, HttpStatusCode.OK);
            before = await SnapshotAsync(grid, key);
        }

        await using var second = await GridApp.StartAsync(settings);
        var again = new GridClient(second.Client);

        Assert.Equal(before, await SnapshotAsync(again, key));
        var retried = await again.ReserveAsync(key, IdempotentRequest(farm), "retry-me");
        Assert.Equal(HttpStatusCode.Created, retried.Status);
        Assert.Equal(idempotent, retried.Body!["reservationId"]!.GetValue<long>());
        var fresh = await again.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB, ipv4 = 2 } });
        Assert.Equal(HttpStatusCode.Created, fresh.Status);
        Assert.True(fresh.Body!["reservationId"]!.GetValue<long>() > usedIpReservation, "ids are never reused after a restart");
        var taken = (await again.GetAsync($"/api/v1/reservations/{usedIpReservation}", key))["publicIps"]!.AsArray().Select(ip => ip!["ip"]!.GetValue<string>());
        var given = fresh.Body["publicIps"]!.AsArray().Select(ip => ip!["ip"]!.GetValue<string>());
        Assert.Empty(taken.Intersect(given));
    }

    private static object IdempotentRequest(long farm) =>
        new { resources = new { cru = 4, mru = 8 * GiB }, constraints = new { farmIds = new[] { farm }, country = "Egypt" } };

    /// <summary>What the twin can read back, minus the soft fields a restart legitimately resets (last heartbeat, uptime).</summary>
    private static async Task<string> SnapshotAsync(GridClient grid, string key)
    {
        var farms = await grid.GetAsync("/api/v1/farms", key);
        var nodes = await grid.GetAsync("/api/v1/nodes", key);
        foreach (var node in nodes.AsArray())
        {
            node!.AsObject().Remove("lastHeartbeat");
            node.AsObject().Remove("uptime");
        }

        var reservations = await grid.GetAsync("/api/v1/reservations", key);
        var parts = new List<JsonNode> { farms, nodes, reservations };
        foreach (var reservation in reservations["items"]!.AsArray())
        {
            var id = reservation!["reservationId"]!.GetValue<long>();
            parts.Add(await grid.GetAsync($"/api/v1/reservations/{id}/events", key));
            foreach (var workloadId in reservation["workloadIds"]!.AsArray())
            {
                parts.Add(await grid.GetAsync($"/api/v1/workloads/{workloadId}", key));
            }
        }

        return string.Join("\n", parts.Select(p => p.ToJsonString()));
    }
}
