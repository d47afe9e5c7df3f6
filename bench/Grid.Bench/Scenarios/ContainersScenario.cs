using System.Diagnostics;
using System.Globalization;
using Grid.Testing.Containers;

namespace Grid.Bench.Scenarios;

/// <summary>
/// Containers end to end with real processes: a controller, one agent running containers with runc, and Debian's
/// <c>docker-registry</c> on 127.0.0.1 serving the busybox test image. Measures a cold pull (create → running, the
/// image not yet on the node), create → running for the cached image (p50/p99), then many containers on the one
/// node: the time until all run and the agent's resident memory per running container.
/// </summary>
public static class ContainersScenario
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(25);

    public static async Task RunAsync(BenchScale scale, List<BenchRow> rows)
    {
        if (!File.Exists("/usr/sbin/runc") && !File.Exists("/usr/bin/runc"))
        {
            Console.Error.WriteLine("containers: skipped (runc is not installed)");
            return;
        }

        var (samples, many) = scale.Name switch { "tiny" => (3, 5), "large" => (50, 100), _ => (20, 50) };
        await using var registry = await LocalRegistry.StartAsync();
        var image = await registry.PushAsync(await TestImages.HttpdAsync(), "bench/web");
        await using var grid = await LiveGrid.StartAsync("containers");
        var (nodeId, agent, _) = await grid.AddNodeAsync(
            new { cru = 64, mru = 64L << 30, sru = 200L << 30 }, "--public-address", "127.0.0.1", "--stop-grace", "1s");
        await LiveGrid.UntilAsync(async () => (await grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{nodeId}", grid.Key, null))["features"]!
            .AsArray().Any(f => f!.GetValue<string>() == "container"), "the node reports the container feature");
        var shell = await registry.PushAsync(await TestImages.ShellAsync(), "bench/shell");

        var reservations = new List<long>();
        var workloads = new List<long>();
        async Task<long> ReserveAsync(long cru, long mru, long sru = 1L << 30)
        {
            reservations.Add((await grid.SendAsync(HttpMethod.Post, "/api/v1/reservations", grid.Key, new
            {
                resources = new { cru, mru, sru },
                constraints = new { features = new[] { "container" } },
            }))["reservationId"]!.GetValue<long>());
            return reservations[^1];
        }

        var next = 0;
        async Task<double> StartOneAsync(long reservation, object container)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"c{next++}");
            var clock = Stopwatch.StartNew();
            var id = (await grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservation}/workloads", grid.Key,
                new { name, type = "container", container }))["workloadId"]!.GetValue<long>();
            lock (workloads)
            {
                workloads.Add(id);
            }

            await LiveGrid.UntilAsync(async () => await grid.RunningOnAsync(id) == nodeId, $"container {name} runs", Step, TimeSpan.FromMinutes(3));
            return clock.Elapsed.TotalSeconds;
        }

        // A web container with a published port, in a reservation of its own (its own network namespace: containers of
        // one reservation share one, so two web servers on one port would not both start).
        var web = new { image, ports = new[] { new { name = "http", port = TestImages.HttpdPort } } };

        // Cold: the first container pulls, verifies and unpacks the image.
        var cold = await StartOneAsync(await ReserveAsync(1, 256L << 20), web);
        Console.WriteLine($"containers: cold pull → running in {cold:0.00} s");

        // Cached: one at a time, each a new reservation's web container (new network namespace, published port).
        var cached = new List<double>();
        for (var i = 0; i < samples; i++)
        {
            cached.Add(await StartOneAsync(await ReserveAsync(1, 256L << 20), web));
        }

        Console.WriteLine($"containers: cached image → running p50 {LiveGrid.Percentile(cached, 0.5):0.000} s, p99 {LiveGrid.Percentile(cached, 0.99):0.000} s "
            + $"({string.Join(' ', cached.Select(c => c.ToString("0.000", CultureInfo.InvariantCulture)))})");
        var label = $"one agent, runc, busybox httpd image, {samples} samples";
        rows.Add(new BenchRow("containers", label, "cold pull: create → running", cold * 1000, "ms"));
        rows.Add(new BenchRow("containers", label, "cached image: create → running, p50", LiveGrid.Percentile(cached, 0.5) * 1000, "ms", "≤ 0.5 s",
            LiveGrid.Percentile(cached, 0.5) <= 0.5));
        rows.Add(new BenchRow("containers", label, "cached image: create → running, p99", LiveGrid.Percentile(cached, 0.99) * 1000, "ms"));

        // Many on one node, started together in one reservation (idle shells; the image is pulled once, before the clock).
        // Each container's writable layer (the default size, no sru asked) counts against the reservation's sru.
        var pod = await ReserveAsync(8, 8L << 30, (many + 1) * ContainerSpec.DefaultWritableLayer);
        await StartOneAsync(pod, new { image = shell, args = new[] { "sleep 3600" } });
        var before = ResidentBytes(agent.Pid);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, many).Select(_ => StartOneAsync(pod, new { image = shell, args = new[] { "sleep 3600" } })));
        var all = clock.Elapsed.TotalSeconds;
        var running = 2 + samples + many;
        var after = ResidentBytes(agent.Pid);
        rows.Add(new BenchRow("containers", $"{many} containers created together on one node", "all running", all * 1000, "ms"));
        rows.Add(new BenchRow("containers", $"{running} containers running on one node", "agent resident memory", after / (1024.0 * 1024.0), "MiB"));
        rows.Add(new BenchRow("containers", $"{many} more containers on one node", "agent memory per running container",
            Math.Max(0, after - before) / (double)many / 1024.0, "KiB"));

        // Cancelling stops them all; the node is left clean.
        foreach (var reservation in reservations)
        {
            await grid.SendAsync(HttpMethod.Delete, $"/api/v1/reservations/{reservation}", grid.Key, null);
        }

        await LiveGrid.UntilAsync(async () => await RuncListAsync() is { } list && !list.Contains($"grid-n{nodeId}-", StringComparison.Ordinal),
            "the cancelled reservations' containers are gone", limit: TimeSpan.FromMinutes(2));

        // The agent may still be deleting pod networks when the run ends: it goes first, then what it left.
        Testing.AgentWorkloads.KillQuietly(agent.Pid);
        await ContainerLeftovers.RemoveAsync(grid.Root, [nodeId], workloads, reservations);
    }

    /// <summary><c>runc list -q</c>, or null when it failed: it fails when a container's state goes while it lists (a removal under way).</summary>
    private static async Task<string?> RuncListAsync()
    {
        try
        {
            return await Tools.RunAsync("runc", "list", "-q");
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static long ResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
