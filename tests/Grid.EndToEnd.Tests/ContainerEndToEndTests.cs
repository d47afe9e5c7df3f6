using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grid.Testing;
using Grid.Testing.Containers;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// The controller, two real agents and a real registry on 127.0.0.1: a tenant deploys a volume and a container from
/// an image pinned by digest, reaches it through its published endpoint, sees the volume's size enforced and a wrong
/// digest refused with its reason; the agent of its node is killed and the container answers from the other node.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class ContainerEndToEndTests(ITestOutputHelper output)
{
    // What a move may take after the controller's timeout: the 2 s (detection scan, placement, the new node's
    // volume, writable layer and runc start, its report). Checked every 100 ms, so the measure overshoots by no more.
    // The assertion allows twice the bound: the new node's start is a dozen tool runs (mkfs, ip, runc), which
    // a 2-core machine shared with builds slows down several times (measured on one: 5.0 and 6.2 s before a container
    // waited for its volume instead of failing; 9.1 s at a load of 67 and 6.8 s at 80 after).
    private static readonly TimeSpan MoveBudget = TimeSpan.FromSeconds(2);
    private const int BusyMachineFactor = 2;
    private static readonly TimeSpan Measuring = TimeSpan.FromMilliseconds(100);

    // The controller declares a node down after this long without a heartbeat (--Grid:Health:HeartbeatTimeout below).
    private static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(2);

    // The nodes declare 10 GiB of SSD: a cache of the default 10 GiB would hold all of it, so the agents keep 1 GiB.
    private static readonly string[] AgentOptions =
        ["--heartbeat-interval", "500ms", "--stop-on-disconnect-after", "3s", "--stop-grace", "1s", "--public-address", "127.0.0.1", "--image-cache-size", "1G"];

    [Fact]
    public async Task ContainerFromARegistryAnswersOnItsEndpointKeepsItsVolumeSizeAndMovesWhenItsAgentDies()
    {
        await using var registry = await LocalRegistry.StartAsync();
        var image = await registry.PushAsync(await TestImages.HttpdAsync(), "shop/web");
        var shellImage = await registry.PushAsync(await TestImages.ShellAsync(), "shop/shell");
        var archive = await TestImages.HttpdArchiveAsync();
        using var files = FileServer.Start(Path.GetDirectoryName(archive.Path)!);

        await using var grid = new GridProcesses();
        await grid.StartHostAsync("--Grid:Health:HeartbeatInterval=00:00:00.500", $"--Grid:Health:HeartbeatTimeout={HeartbeatTimeout}",
            "--Grid:Health:RejoinAfter=00:00:02", "--Grid:Health:ScanInterval=00:00:00.200");
        var key = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "containers" }, 201))["apiKey"]!.GetValue<string>();
        var farm = (await grid.SendAsync(HttpMethod.Post, "/api/v1/farms", key, new { name = "container-farm" }, 201))["farmId"]!.GetValue<long>();
        var agents = new Dictionary<long, (string Key, string WorkDir, ChildProcess Process)>();
        var started = new List<ChildProcess>();
        var workloads = new List<long>();
        var reservations = new List<long>();
        for (var i = 0; i < 2; i++)
        {
            var node = await grid.SendAsync(HttpMethod.Post, "/api/v1/nodes", key,
                new { farmId = farm, resources = new { cru = 4, mru = 4L << 30, sru = 10L << 30 }, location = new { country = "Belgium", city = "Ghent" } }, 201);
            var (nodeId, nodeKey) = (node["nodeId"]!.GetValue<long>(), node["nodeKey"]!.GetValue<string>());
            var workDir = Path.Combine(grid.Root, $"agent{i}");
            agents[nodeId] = (nodeKey, workDir, grid.StartAgent(nodeId, nodeKey, workDir, AgentOptions));
            started.Add(agents[nodeId].Process);
        }

        try
        {
            // Both nodes say they run containers, and hold their image cache's 1 GiB out of the SSD they sell.
            await Poll.UntilAsync(async () => (await Task.WhenAll(agents.Keys.Select(id => NodeAsync(grid, key, id)))).All(n =>
                n["status"]!.GetValue<string>() == "up" && n["features"]!.AsArray().Any(f => f!.GetValue<string>() == "container")),
                TimeSpan.FromSeconds(60), "both agents heartbeat with the container feature");
            var fresh = await NodeAsync(grid, key, agents.Keys.First());
            Assert.Equal((1L << 30, 0L), (fresh["imageCache"]!["cap"]!.GetValue<long>(), fresh["imageCache"]!["used"]!.GetValue<long>()));
            Assert.Equal(9L << 30, fresh["free"]!["sru"]!.GetValue<long>());

            var reservation = await grid.ReserveAsync(key, new
            {
                // A 16 MiB volume and three containers' default writable layers (256 MiB each).
                resources = new { cru = 1, mru = 256L << 20, sru = 1L << 30 },
                constraints = new { features = new[] { "container" } },
            });
            var reservationId = reservation["reservationId"]!.GetValue<long>();
            reservations.Add(reservationId);
            var firstNode = reservation["nodeId"]!.GetValue<long>();

            workloads.Add(await Deploy(grid, key, reservationId, new { name = "data", type = "volume", volume = new { size = 16L << 20 } }));
            var web = await Deploy(grid, key, reservationId, new
            {
                name = "web",
                type = "container",
                container = new
                {
                    image,
                    ports = new[] { new { name = "http", port = TestImages.HttpdPort } },
                    mounts = new[] { new { volume = "data", path = "/data" } },
                    restart = "always",
                },
            });
            workloads.Add(web);
            var (address, port) = await RunningEndpointAsync(grid, key, web, firstNode, "the container runs on its first node");
            Assert.Equal(TestImages.Greeting, (await GetAsync(address, port)).Trim());
            var workload = await WorkloadAsync(grid, key, web);
            Assert.Equal(image.Split('@')[1], workload["digest"]!.GetValue<string>());

            // Its root is not the host's root.
            var victim = agents[firstNode];
            var pid = await ContainerPidAsync(firstNode, web);
            Assert.NotEqual("0", HostUid(pid));

            // A volume of 16 MiB holds 16 MiB: writing 32 fails inside the container, and the host is untouched.
            var filler = await Deploy(grid, key, reservationId, new
            {
                name = "filler",
                type = "container",
                container = new
                {
                    image = shellImage,
                    args = new[] { "wget -qO- http://127.0.0.1:8080/; echo; dd if=/dev/zero of=/data/big bs=1M count=32; echo dd-exit=$?" },
                    mounts = new[] { new { volume = "data", path = "/data" } },
                    restart = "never",
                },
            });
            workloads.Add(filler);
            await Poll.UntilAsync(async () => (await LogsAsync(grid, key, filler)).Contains("dd-exit=", StringComparison.Ordinal),
                TimeSpan.FromSeconds(60), "the filler container ran and its output reached the controller");
            var logs = await LogsAsync(grid, key, filler);
            output.WriteLine(logs);
            Assert.Contains("No space left on device", logs, StringComparison.Ordinal);
            Assert.DoesNotContain("dd-exit=0", logs, StringComparison.Ordinal);

            // Containers of one reservation share a network namespace: the filler reached the web container on localhost.
            Assert.Contains(TestImages.Greeting, logs, StringComparison.Ordinal);

            // A digest that is not the file's is refused by the node, with its reason, within seconds.
            var wrong = await Deploy(grid, key, reservationId, new
            {
                name = "wrong",
                type = "container",
                container = new { image = $"{files.UrlOf(archive.Path)}@sha256:{new string('0', 64)}", restart = "never" },
            });
            workloads.Add(wrong);
            await Poll.UntilAsync(async () => (await WorkloadAsync(grid, key, wrong))["reason"]?.GetValue<string>() == "digest-mismatch",
                TimeSpan.FromSeconds(30), "the wrong digest is reported as digest-mismatch");
            Assert.Equal("failed", (await WorkloadAsync(grid, key, wrong))["state"]!.GetValue<string>());

            // The other node already holds the image: a container of another reservation started from it there once.
            var otherNode = agents.Keys.Single(id => id != firstNode);
            await WarmAsync(grid, key, otherNode, image, reservations, workloads);

            // kill -9 of the agent: the container answers from the other node's endpoint, with a new empty volume,
            // within the heartbeat timeout + 2 s (the node holds the image; a cold pull would add its own time).
            var clock = Stopwatch.StartNew();
            using (var agentProcess = Process.GetProcessById(victim.Process.Pid))
            {
                agentProcess.Kill(entireProcessTree: false);
            }

            var (newAddress, newPort) = await RunningEndpointAsync(grid, key, web, otherNode, "the container runs on the other node", maxPause: Measuring);
            await Poll.UntilAsync(async () => await TryGetAsync(newAddress, newPort) == TestImages.Greeting, TimeSpan.FromSeconds(30),
                "the moved container answers on its new endpoint", Measuring);
            var moved = clock.Elapsed;
            var bound = HeartbeatTimeout + MoveBudget;
            output.WriteLine($"kill -9 of the agent -> container answers on the other node: {moved.TotalSeconds:0.00} s (issue's bound {bound.TotalSeconds:0.#} s)");
            Assert.True(moved <= bound * BusyMachineFactor, $"the container answered from the other node after {moved.TotalSeconds:0.00} s, over {BusyMachineFactor} x {bound.TotalSeconds:0.#} s");
            var events = await grid.SendAsync(HttpMethod.Get, $"/api/v1/reservations/{reservationId}/events", key, null, 200);
            Assert.Contains(events.AsArray(), e => e!.ToJsonString().Contains("volume-reset", StringComparison.Ordinal)
                && e.ToJsonString().Contains("data", StringComparison.Ordinal));

            // The returning agent stops what it left behind: runc has no container of that node.
            started.Add(grid.StartAgent(firstNode, victim.Key, victim.WorkDir, AgentOptions));
            await Poll.UntilAsync(async () => (await RuncIdsAsync(firstNode)).Count == 0, TimeSpan.FromSeconds(60),
                "the returning agent leaves no stale container");
        }
        finally
        {
            // The agents go first: a live one would start a container removed under it again (restart: always). A
            // killed agent leaves its containers, its volumes' mounts and loop devices and its pod's namespace.
            foreach (var agent in started)
            {
                GridProcesses.KillQuietly(agent.Pid);
            }

            await ContainerLeftovers.RemoveAsync(grid.Root, agents.Keys, workloads, reservations);
        }
    }

    /// <summary>
    /// Starts a container from <paramref name="image"/> on <paramref name="nodeId"/> in a reservation of its own and
    /// waits until it ran (its entrypoint exits at once): the node's cache holds the image from then on.
    /// </summary>
    private static async Task WarmAsync(GridProcesses grid, string key, long nodeId, string image, List<long> reservations, List<long> workloads)
    {
        var reservation = await grid.ReserveAsync(key, new
        {
            resources = new { cru = 1, mru = 64L << 20, sru = 256L << 20 },
            constraints = new { nodeId, features = new[] { "container" } },
        });
        var reservationId = reservation["reservationId"]!.GetValue<long>();
        reservations.Add(reservationId);
        var warm = await Deploy(grid, key, reservationId, new
        {
            name = "warm",
            type = "container",
            container = new { image, entrypoint = new[] { "/bin/true" }, restart = "never" },
        });
        workloads.Add(warm);
        await Poll.UntilAsync(async () => (await WorkloadAsync(grid, key, warm))["state"]!.GetValue<string>() == "exited",
            TimeSpan.FromSeconds(60), "a container of the image ran on the other node");
        Assert.Equal(nodeId, reservation["nodeId"]!.GetValue<long>());
        Assert.True((await NodeAsync(grid, key, nodeId))["imageCache"]!["used"]!.GetValue<long>() > 0);
    }

    private static async Task<long> Deploy(GridProcesses grid, string key, long reservationId, object body) =>
        (await grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservationId}/workloads", key, body, 201))["workloadId"]!.GetValue<long>();

    private static async Task<(string Address, int Port)> RunningEndpointAsync(
        GridProcesses grid, string key, long workloadId, long? onNode, string what, TimeSpan? maxPause = null)
    {
        (string, int)? endpoint = null;
        await Poll.UntilAsync(async () =>
        {
            var w = await WorkloadAsync(grid, key, workloadId);
            var node = w["nodeId"]?.GetValue<long>();
            if (w["state"]!.GetValue<string>() != "running" || (onNode is { } on && node != on) || w["endpoints"]?.AsArray() is not { Count: > 0 } endpoints)
            {
                return false;
            }

            endpoint = (endpoints[0]!["address"]!.GetValue<string>(), endpoints[0]!["port"]!.GetValue<int>());
            return true;
        }, TimeSpan.FromSeconds(90), what, maxPause);
        return endpoint!.Value;
    }

    private static Task<JsonNode> NodeAsync(GridProcesses grid, string key, long nodeId) =>
        grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{nodeId}", key, null, 200);

    private static Task<JsonNode> WorkloadAsync(GridProcesses grid, string key, long workloadId) =>
        grid.SendAsync(HttpMethod.Get, $"/api/v1/workloads/{workloadId}", key, null, 200);

    private static async Task<string> LogsAsync(GridProcesses grid, string key, long workloadId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/workloads/{workloadId}/logs?tail=200");
        request.Headers.Authorization = new("Bearer", key);
        using var response = await grid.Http.SendAsync(request);
        return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : "";
    }

    private static async Task<string> GetAsync(string address, int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync($"http://{address}:{port}/");
    }

    private static async Task<string?> TryGetAsync(string address, int port)
    {
        try
        {
            return (await GetAsync(address, port)).Trim();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>The node's runc containers.</summary>
    private static async Task<List<string>> RuncIdsAsync(long nodeId) =>
        [.. (await Tools.RuncListAsync()).Where(id => ContainerLeftovers.Named(id, nodeId))];

    private static async Task<int> ContainerPidAsync(long nodeId, long workloadId)
    {
        var id = (await RuncIdsAsync(nodeId)).Single(i => i.Contains($"-w{workloadId}-", StringComparison.Ordinal));
        return JsonNode.Parse(await Tools.RunAsync("runc", "state", id))!["pid"]!.GetValue<int>();
    }

    private static string HostUid(int pid) =>
        File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
}
