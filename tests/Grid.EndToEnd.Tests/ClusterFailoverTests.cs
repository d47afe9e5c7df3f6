using System.Diagnostics;
using System.Net;
using Grid.Testing;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>Three silo processes on one PostgreSQL: a silo killed mid-load, then PostgreSQL restarted under load.</summary>
[Collection(ProcessHeavy.Name)]
public sealed class ClusterFailoverTests(SharedPostgres shared, ITestOutputHelper output)
{
    private const int NodeCount = 6;

    [Fact]
    public async Task KillingASiloMidLoadLosesNothingAcknowledgedAndAnswersNo500()
    {
        var postgres = shared.Server;
        await using var grid = new GridProcesses();
        var settings = ClusterSettings(await postgres.CreateDatabaseAsync("grid_failover"));
        var silos = Enumerable.Range(0, 3).Select(_ => grid.StartSilo(settings)).ToList();
        await Task.WhenAll(silos.Select(GridProcesses.WaitReadyAsync));
        var observer = await AnyKeyAsync(grid);
        await Poll.UntilAsync(async () => (await grid.SendAsync(HttpMethod.Get, "/api/v1/cluster", observer, null, 200))
            .AsArray().Count(s => s!["status"]!.GetValue<string>() == "active") == 3, TimeSpan.FromSeconds(60), "three silos are active");

        var (key, nodes) = await SeedAsync(grid);
        var load = new ClusterLoad(grid, key);
        using var stop = new CancellationTokenSource();
        var heartbeats = load.HeartbeatAsync(nodes, stop.Token);
        var running = load.RunAsync(workers: 8, TimeSpan.FromSeconds(16), ipv4Every: 4);

        await Poll.UntilAsync(() => load.Active.Count >= 40, TimeSpan.FromSeconds(30), "the load is under way");
        var killedAt = DateTime.UtcNow;
        load.Down[2] = 0;
        using (var victim = Process.GetProcessById(silos[2].Process.Pid))
        {
            victim.Kill(entireProcessTree: false);
        }

        await running;
        var firstWrite = load.Answers.Where(a => a.At > killedAt && a.Status is HttpStatusCode.Created or HttpStatusCode.NoContent)
            .Select(a => a.At).DefaultIfEmpty(DateTime.MaxValue).Min();
        var recovery = firstWrite - killedAt;
        output.WriteLine($"kill -9 of a silo -> first successful write through a survivor: {recovery.TotalMilliseconds:0} ms");
        Console.WriteLine($"[cluster] first successful write {recovery.TotalMilliseconds:0} ms after kill -9 of a silo");

        Assert.True(firstWrite < DateTime.MaxValue, "no write succeeded after the kill");
        Assert.DoesNotContain(load.Answers, a => (int)a.Status >= 500 && a.Status != HttpStatusCode.ServiceUnavailable);
        await ClusterInvariants.AssertConsistentAsync(grid, silos[0], key, load, nodes.Select(n => n.NodeId));
        var cluster = await grid.SendAsync(HttpMethod.Get, "/api/v1/cluster", key, null, 200);
        Assert.Equal(2, cluster.AsArray().Count(s => s!["status"]!.GetValue<string>() == "active"));
        await stop.CancelAsync();
        await heartbeats;
        output.WriteLine($"{load.Active.Count} active, {load.Cancelled.Count} cancelled, {load.Answers.Count()} answers, " +
            $"{load.Answers.Count(a => a.Status == HttpStatusCode.ServiceUnavailable)} x 503");
    }

    [Fact]
    public async Task APostgresRestartMakesSilosNotReadyThenReadyAgainWithoutLoss()
    {
        // A server of its own: it is stopped and started again.
        await using var postgres = await PostgresServer.StartNewAsync();
        await using var grid = new GridProcesses();
        var settings = ClusterSettings(await postgres.CreateDatabaseAsync("grid_outage"));
        var silos = Enumerable.Range(0, 2).Select(_ => grid.StartSilo(settings)).ToList();
        await Task.WhenAll(silos.Select(GridProcesses.WaitReadyAsync));
        var (key, nodes) = await SeedAsync(grid);
        var load = new ClusterLoad(grid, key);
        using var stop = new CancellationTokenSource();
        var heartbeats = load.HeartbeatAsync(nodes, stop.Token);
        var running = load.RunAsync(workers: 2, TimeSpan.FromSeconds(14), ipv4Every: 3);
        await Poll.UntilAsync(() => load.Active.Count >= 5, TimeSpan.FromSeconds(30), "the load is under way");

        var clock = Stopwatch.StartNew();
        await postgres.StopAsync();
        await Poll.UntilAsync(async () => !(await Task.WhenAll(silos.Select(GridProcesses.IsReadyAsync))).Any(r => r),
            TimeSpan.FromSeconds(20), "every silo reports not ready");
        var notReady = clock.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(3));
        await postgres.StartAsync();
        clock.Restart();
        await Poll.UntilAsync(async () => (await Task.WhenAll(silos.Select(GridProcesses.IsReadyAsync))).All(r => r),
            TimeSpan.FromSeconds(60), "every silo is ready again");
        output.WriteLine($"not ready {notReady.TotalMilliseconds:0} ms after PostgreSQL stopped; ready {clock.ElapsedMilliseconds} ms after it started");
        await running;

        Assert.All(silos, s => Assert.False(s.Process.HasExited, "a silo restarted or died"));
        Assert.DoesNotContain(load.Answers, a => (int)a.Status >= 500 && a.Status != HttpStatusCode.ServiceUnavailable);
        await ClusterInvariants.AssertConsistentAsync(grid, silos[0], key, load, nodes.Select(n => n.NodeId));
        await stop.CancelAsync();
        await heartbeats;
    }

    internal static string[] ClusterSettings(string connectionString) =>
    [
        "--Grid:Storage=postgres", $"--ConnectionStrings:Grid={connectionString}",
        "--Grid:Cluster:AdvertisedAddress=127.0.0.1", "--Grid:Cluster:ProbeTimeout=00:00:01",
        "--Grid:Cluster:NumMissedProbesLimit=2", "--Grid:Cluster:TableRefreshTimeout=00:00:02",
        "--Grid:Health:HeartbeatInterval=00:00:00.500", "--Grid:Health:HeartbeatTimeout=00:00:05",
        "--Grid:Health:OrphanCheckInterval=00:00:03", "--Logging:LogLevel:Default=Warning",
    ];

    internal static async Task<(string Key, List<(long NodeId, string NodeKey)> Nodes)> SeedAsync(
        GridProcesses grid, int nodeCount = NodeCount, bool heartbeat = true)
    {
        var key = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "load" }, 201))["apiKey"]!.GetValue<string>();
        var ips = Enumerable.Range(2, 200).Select(i => new { ip = $"10.{i / 250}.{i % 250}.7/8", gateway = "10.255.255.254" }).ToArray();
        var farm = (await grid.SendAsync(HttpMethod.Post, "/api/v1/farms", key, new { name = "load-farm", publicIps = ips }, 201))["farmId"]!.GetValue<long>();
        var nodes = new List<(long, string)>();
        for (var i = 0; i < nodeCount; i++)
        {
            var node = await grid.SendAsync(HttpMethod.Post, "/api/v1/nodes", key,
                new { farmId = farm, resources = new { cru = 64, mru = 64L << 30 }, location = new { country = "Belgium" } }, 201);
            var nodeKey = node["nodeKey"]!.GetValue<string>();
            var nodeId = node["nodeId"]!.GetValue<long>();
            if (heartbeat)
            {
                await grid.SendAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey, new { uptime = 1 }, 200);
            }

            nodes.Add((nodeId, nodeKey));
        }

        return (key, nodes);
    }

    internal static async Task<string> AnyKeyAsync(GridProcesses grid) =>
        (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "observer" }, 201))["apiKey"]!.GetValue<string>();
}
