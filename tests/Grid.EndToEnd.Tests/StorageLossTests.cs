using System.Diagnostics;
using System.Net;
using Grid.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// A silo that loses its database must not hold the cluster back: three silos on PostgreSQL under create/cancel
/// load, and the link between one of them and PostgreSQL (all of its connections: membership, grain state and
/// reminders) is cut for 20 s by a TCP proxy. The cut-off silo leaves the cluster (exit code 75) and its grains
/// move, so the two healthy silos keep serving; nothing acknowledged is lost.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class StorageLossTests(SharedPostgres shared, ITestOutputHelper output)
{
    private static readonly TimeSpan Cut = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task ASiloCutOffFromItsDatabaseLeavesAndTheOthersKeepServing()
    {
        var postgres = shared.Server;
        await using var link = new TcpProxy(postgres.Port);
        await using var grid = new GridProcesses();
        var direct = await postgres.CreateDatabaseAsync("grid_storage_loss");
        var throughProxy = new NpgsqlConnectionStringBuilder(direct) { Port = link.Port }.ConnectionString;
        var silos = new[] { direct, direct, throughProxy }.Select(c => grid.StartSilo([.. ClusterFailoverTests.ClusterSettings(c), "--Logging:Console:TimestampFormat=HH:mm:ss.fff "])).ToList();
        await Task.WhenAll(silos.Select(GridProcesses.WaitReadyAsync));
        var observer = await ClusterFailoverTests.AnyKeyAsync(grid);
        await Poll.UntilAsync(async () => (await grid.SendAsync(HttpMethod.Get, "/api/v1/cluster", observer, null, 200))
            .AsArray().Count(s => s!["status"]!.GetValue<string>() == "active") == 3, TimeSpan.FromSeconds(60), "three silos are active");

        // Load through every silo first, so the one to be cut off hosts its share of the grains.
        var (key, nodes) = await ClusterFailoverTests.SeedAsync(grid);
        var load = new ClusterLoad(grid, key);
        using var stop = new CancellationTokenSource();
        // The nodes keep beating through the consistency check below: with them silent for the heartbeat timeout
        // (5 s; one pass over a thousand acknowledged reservations takes about that), the grid rightly declares
        // them down and moves or parks their reservations, which the check then reads as "unschedulable".
        using var stopHeartbeats = new CancellationTokenSource();
        var heartbeats = load.HeartbeatAsync(nodes, stopHeartbeats.Token);
        var running = load.RunAsync(workers: 8, TimeSpan.FromMinutes(3), ipv4Every: 4, stop.Token);
        await Poll.UntilAsync(() => load.Active.Count >= 40, TimeSpan.FromSeconds(30), "the load is under way");

        // The cut silo turns not ready at once; a load balancer sends it nothing more, and neither does the load.
        var cutAt = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        load.Down[2] = 0;
        link.Cut();
        await Poll.UntilAsync(() => silos[2].Process.HasExited, Cut, "the cut-off silo leaves the cluster");
        var left = clock.Elapsed;
        await Task.Delay(Cut > clock.Elapsed ? Cut - clock.Elapsed : TimeSpan.Zero);
        link.Restore();
        var restoredAt = DateTime.UtcNow;
        await stop.CancelAsync();
        await running;

        var during = load.Answers.Where(a => a.At >= cutAt && a.At <= restoredAt && a.Silo != 2).ToList();
        var requests = during.Where(a => !a.Heartbeat).ToList();
        var served = Share(requests);
        output.WriteLine($"cut-off silo exited with {silos[2].Process.ExitCode} after {left.TotalSeconds:0.0} s; during the {Cut.TotalSeconds:0} s cut " +
            $"the healthy silos served {served:P1} of {requests.Count} creates/cancels ({requests.Count(a => a.Status == HttpStatusCode.ServiceUnavailable)} x 503) " +
            $"and {Share(during.Where(a => a.Heartbeat)):P1} of {during.Count(a => a.Heartbeat)} heartbeats");
        output.WriteLine("not served, by second after the cut: " + string.Join(", ", requests.Where(a => (int)a.Status is not (>= 200 and < 300 or 409))
            .GroupBy(a => (int)(a.At - cutAt).TotalSeconds).OrderBy(g => g.Key).Select(g => $"{g.Key}s: {g.Count()}")));
        Console.WriteLine($"[storage-loss] silo left {left.TotalSeconds:0.0} s after its database link was cut; healthy silos served {served:P1} of {requests.Count} requests");

        Assert.Equal(75, silos[2].Process.ExitCode);
        Assert.True(served >= 0.95, $"the healthy silos served only {served:P1} of {requests.Count} requests during the cut");
        Assert.All(silos.Take(2), s => Assert.False(s.Process.HasExited, "a healthy silo left"));
        Assert.DoesNotContain(load.Answers, a => (int)a.Status >= 500 && a.Status != HttpStatusCode.ServiceUnavailable);
        await ClusterInvariants.AssertConsistentAsync(grid, silos[0], key, load, nodes.Select(n => n.NodeId));
        await stopHeartbeats.CancelAsync();
        await heartbeats;
    }

    private static double Share(IEnumerable<(DateTime At, int Silo, HttpStatusCode Status, bool Heartbeat)> answers)
    {
        var list = answers.ToList();
        return list.Count == 0 ? 0 : (double)list.Count(a => (int)a.Status is >= 200 and < 300 or 409) / list.Count;
    }
}
