using System.Diagnostics;
using System.Text.Json.Nodes;
using Grid.Testing;
using Grid.Testing.Containers;
using Xunit.Abstractions;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// Gateway names end to end with real processes on 127.0.0.1: the controller, two gateway agents, three worker agents
/// on two farms running containers with runc, and a registry. Two replicas of a web container behind one name are
/// reached through both gateways, the name follows a replica moved by kill -9 of its agent under a steady load, a
/// killed gateway leaves the other serving, a released name is 404 at both gateways within a second, the gateways'
/// traffic is counted for the name, and the released name's bill charges its hours and the bytes each gateway carried,
/// of which the gateway farmer earns FarmerShare.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class GatewayEndToEndTests(ITestOutputHelper output)
{
    private const string Domain = "gw.grid.local";

    // The farmer's share set for this grid (Grid:Billing:FarmerShare = 0.75): the test computes earnings from it.
    private const long FarmerShareNumerator = 3;
    private const long FarmerShareDenominator = 4;

    // The nodes declare 10 GiB of SSD and the controller holds the image cache's cap out of it: the agents keep 1 GiB.
    private static readonly string[] AgentOptions =
        ["--heartbeat-interval", "500ms", "--stop-on-disconnect-after", "3s", "--stop-grace", "1s", "--public-address", "127.0.0.1", "--image-cache-size", "1G"];

    [Fact]
    public async Task ANameReachesItsReplicasThroughEveryGatewayFollowsAMoveSurvivesAGatewayLossAndIsGoneWhenReleased()
    {
        await using var registry = await LocalRegistry.StartAsync();
        var image = await registry.PushAsync(await TestImages.ShellAsync(), "shop/web");

        await using var grid = new GridProcesses();
        await grid.StartHostAsync("--Grid:Health:HeartbeatInterval=00:00:00.500", "--Grid:Health:HeartbeatTimeout=00:00:02",
            "--Grid:Health:RejoinAfter=00:00:02", "--Grid:Health:ScanInterval=00:00:00.200", $"--Grid:Gateways:Domain={Domain}",
            "--Grid:Billing:FarmerShare=0.75");
        var key = (await grid.SendAsync(HttpMethod.Post, "/api/v1/twins", null, new { name = "shop" }, 201))["apiKey"]!.GetValue<string>();
        var farms = new List<long>();
        foreach (var farmName in new[] { "farm-a", "farm-b", "gateway-farm" })
        {
            farms.Add((await grid.SendAsync(HttpMethod.Post, "/api/v1/farms", key, new { name = farmName }, 201))["farmId"]!.GetValue<long>());
        }

        var agents = new Dictionary<long, ChildProcess>();
        var workers = new List<long>();
        var gateways = new List<(long NodeId, GatewayClient Client)>();
        var workloads = new List<long>();
        var reservations = new List<long>();
        async Task<long> AddNodeAsync(long farm, params string[] options)
        {
            var node = await grid.SendAsync(HttpMethod.Post, "/api/v1/nodes", key,
                new { farmId = farm, resources = new { cru = 4, mru = 4L << 30, sru = 10L << 30 }, location = new { country = "Belgium" } }, 201);
            var nodeId = node["nodeId"]!.GetValue<long>();
            agents[nodeId] = grid.StartAgent(nodeId, node["nodeKey"]!.GetValue<string>(), Path.Combine(grid.Root, $"agent{nodeId}"), [.. AgentOptions, .. options]);
            return nodeId;
        }

        try
        {
            foreach (var farm in new[] { farms[0], farms[0], farms[1] })
            {
                workers.Add(await AddNodeAsync(farm));
            }

            for (var i = 0; i < 2; i++)
            {
                var port = FreePort.Get();
                gateways.Add((await AddNodeAsync(farms[2], "--no-containers", "--gateway-listen", $"127.0.0.1:{port}"), new GatewayClient(port)));
            }

            await Poll.UntilAsync(async () =>
            {
                var nodes = await Task.WhenAll(agents.Keys.Select(id => grid.SendAsync(HttpMethod.Get, $"/api/v1/nodes/{id}", key, null, 200)));
                return nodes.All(n => n["status"]!.GetValue<string>() == "up")
                    && workers.All(w => HasFeature(nodes.Single(n => n["nodeId"]!.GetValue<long>() == w), "container"))
                    && gateways.All(g => HasFeature(nodes.Single(n => n["nodeId"]!.GetValue<long>() == g.NodeId), "gateway"));
            }, TimeSpan.FromSeconds(90), "the workers report the container feature and the gateways the gateway feature");

            // Two replicas, one per farm of workers, behind one name.
            foreach (var (replica, farm) in new[] { ("a", farms[0]), ("b", farms[1]) })
            {
                var reservation = await grid.ReserveAsync(key, new
                {
                    resources = new { cru = 1, mru = 256L << 20, sru = 256L << 20 },
                    constraints = new { features = new[] { "container" }, farmIds = new[] { farm } },
                });
                reservations.Add(reservation["reservationId"]!.GetValue<long>());
                workloads.Add((await grid.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservations[^1]}/workloads", key, new
                {
                    name = "web",
                    type = "container",
                    container = new
                    {
                        image,
                        args = new[] { TestImages.ServeReplicaAndToken },
                        env = new Dictionary<string, string> { ["REPLICA"] = replica },
                        ports = new[] { new { name = "http", port = TestImages.HttpdPort } },
                        restart = "always",
                    },
                }, 201))["workloadId"]!.GetValue<long>());
            }

            var created = await grid.SendAsync(HttpMethod.Post, "/api/v1/names", key, new
            {
                name = "myshop",
                backends = workloads.Select(w => new { workloadId = w, port = "http" }),
                healthCheck = new { path = "/", interval = "1s" },
            }, 201);
            Assert.Equal($"http://myshop.{Domain}", created["url"]!.GetValue<string>());
            var host = $"myshop.{Domain}";
            await Poll.UntilAsync(async () => BackendStates(await NameAsync(grid, key, "myshop")).All(s => s == "healthy"),
                TimeSpan.FromSeconds(120), "both replicas run and pass their health check");

            // Every gateway reaches both replicas.
            foreach (var (_, client) in gateways)
            {
                var seen = new HashSet<string>();
                await Poll.UntilAsync(async () =>
                {
                    var (status, body) = await client.GetAsync(host);
                    Assert.True(status == 200, $"gateway {client.Port}: {status} {body}");
                    seen.Add(body.Split(' ')[0]);
                    return seen.SetEquals(["a", "b"]);
                }, TimeSpan.FromSeconds(30), $"the gateway on port {client.Port} reaches both replicas", TimeSpan.Zero);
            }

            // Traffic: what the test sent and received is counted for the name (within the size of the headers).
            for (var i = 0; i < 50; i++)
            {
                foreach (var (_, client) in gateways)
                {
                    Assert.Equal(200, (await client.GetAsync(host)).Status);
                }
            }

            var requests = gateways.Sum(g => g.Client.Requests);
            var bodies = gateways.Sum(g => g.Client.BodyBytes);
            await Poll.UntilAsync(async () => (await NameAsync(grid, key, "myshop"))["bytesOut"]!.GetValue<long>() >= bodies,
                TimeSpan.FromSeconds(15), "the gateways' traffic reaches the name");
            var counted = await NameAsync(grid, key, "myshop");
            var (bytesIn, bytesOut) = (counted["bytesIn"]!.GetValue<long>(), counted["bytesOut"]!.GetValue<long>());
            output.WriteLine($"traffic: {requests} requests, {bodies} body bytes received; counted in {bytesIn} B, out {bytesOut} B");
            Assert.InRange(bytesIn, requests * "GET / HTTP/1.1\r\n\r\n".Length, requests * 400);
            Assert.InRange(bytesOut, bodies, bodies + (requests * 400));

            await HealingEpisodeAsync(grid, key, host, agents, workloads[0], gateways[0].Client);
            await ReleaseAsync(grid, key, workloads, gateways, farms[2]);

            // kill -9 of a gateway: the other one keeps serving the name, reaching both replicas.
            KillNine(agents[gateways[0].NodeId]);
            var survivor = gateways[1].Client;
            var after = new HashSet<string>();
            for (var i = 0; i < 20; i++)
            {
                var (status, body) = await survivor.GetAsync(host);
                Assert.True(status == 200, $"the surviving gateway: {status} {body}");
                after.Add(body.Split(' ')[0]);
            }

            Assert.Equal(["a", "b"], after.Order());
        }
        finally
        {
            foreach (var (_, client) in gateways)
            {
                client.Dispose();
            }

            // The agents go first: a live one would start a container removed under it again (restart: always).
            foreach (var agent in agents.Values)
            {
                GridProcesses.KillQuietly(agent.Pid);
            }

            await ContainerLeftovers.RemoveAsync(grid.Root, workers, workloads, reservations);
        }
    }

    /// <summary>kill -9 of the agent running <paramref name="workloadId"/> under a steady load: ≥ 99 % succeed and the moved copy rejoins.</summary>
    private async Task HealingEpisodeAsync(
        GridProcesses grid, string key, string host, Dictionary<long, ChildProcess> agents, long workloadId, GatewayClient client)
    {
        var before = await WorkloadAsync(grid, key, workloadId);
        var victim = before["nodeId"]!.GetValue<long>();
        var clock = Stopwatch.StartNew();
        GatewayLoad load;
        await using (load = client.StartLoad(host, TimeSpan.FromMilliseconds(20)))
        {
            await Poll.UntilAsync(() => load.Bodies.Keys.Any(b => b.StartsWith("a ", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(10), "the load reaches replica a");
            var oldCopy = load.Bodies.Keys.Single(b => b.StartsWith("a ", StringComparison.Ordinal));
            KillNine(agents[victim]);
            clock.Restart();

            // The controller moves it; the name shows it healthy again and the load reaches its new copy.
            await Poll.UntilAsync(async () =>
            {
                var workload = await WorkloadAsync(grid, key, workloadId);
                return workload["state"]!.GetValue<string>() == "running" && workload["nodeId"]!.GetValue<long>() != victim
                    && BackendStates(await NameAsync(grid, key, "myshop")).All(s => s == "healthy")
                    && load.Bodies.Keys.Any(b => b.StartsWith("a ", StringComparison.Ordinal) && b != oldCopy);
            }, TimeSpan.FromSeconds(90), "the moved replica runs on another node, is healthy and serves the name's requests");
            output.WriteLine($"kill -9 of replica a's agent -> its new copy serves through the gateway after {clock.Elapsed.TotalSeconds:0.00} s");

            // A few more seconds of load with both replicas in the pool.
            var sentThen = load.Sent;
            await Poll.UntilAsync(() => load.Sent >= sentThen + 50, TimeSpan.FromSeconds(30), "the load goes on");
        }

        var share = load.Succeeded / (double)load.Sent;
        output.WriteLine($"healing episode: {load.Succeeded}/{load.Sent} succeeded ({share:P2}); failures: {string.Join(" | ", load.Failures.Take(10))}");
        Assert.True(share >= 0.99, $"only {share:P2} of {load.Sent} requests succeeded: {string.Join(" | ", load.Failures.Take(10))}");
    }

    /// <summary>
    /// A second name on the same replicas is served by both gateways and carries traffic through both; once released it
    /// is 404 at both within 1 s, and the release bills it at once: a name line for the seconds it was held and a
    /// traffic line per gateway node whose bytes are what the test sent and received (within the headers' size), each
    /// at the gateway farm's network price; the gateway farmer earns FarmerShare of each traffic line.
    /// </summary>
    private async Task ReleaseAsync(GridProcesses grid, string key, List<long> workloads, List<(long NodeId, GatewayClient Client)> gateways, long gatewayFarm)
    {
        var (namePrice, networkPrice) = await PricesAsync(grid, key, gatewayFarm);
        var host = $"myshop-old.{Domain}";

        // Clients of this name alone: what they tally, bar the 404s of a name not served yet, is the name's traffic.
        var clients = gateways.Select(g => new GatewayClient(g.Client.Port)).ToList();
        try
        {
            var held = Stopwatch.StartNew();
            await grid.SendAsync(HttpMethod.Post, "/api/v1/names", key, new
            {
                name = "myshop-old",
                backends = workloads.Select(w => new { workloadId = w, port = "http" }),
                healthCheck = new { path = "/", interval = "1s" },
            }, 201);
            foreach (var client in clients)
            {
                await Poll.UntilAsync(() => client.ServesAsync(host), TimeSpan.FromSeconds(30), $"the gateway on port {client.Port} serves the new name",
                    TimeSpan.FromMilliseconds(20));
            }

            for (var i = 0; i < 40; i++)
            {
                foreach (var client in clients)
                {
                    Assert.Equal(200, (await client.GetAsync(host)).Status);
                }
            }

            // One more request on each client's connection: a gateway handles a connection's requests one after another,
            // so the name's last request was counted by the time this one is answered (404: no name is charged for it).
            foreach (var client in clients)
            {
                Assert.Equal(404, (await client.GetAsync($"nobody.{Domain}")).Status);
            }

            var sentAt = DateTime.UtcNow;
            await Poll.UntilAsync(() => gateways.All(g => TrafficAcknowledged(Path.Combine(grid.Root, $"agent{g.NodeId}"), "myshop-old", sentAt)),
                TimeSpan.FromSeconds(30), "both gateways' counts of the name are applied by the controller");
            var counted = await NameAsync(grid, key, "myshop-old");
            var countedBytes = counted["bytesIn"]!.GetValue<long>() + counted["bytesOut"]!.GetValue<long>();
            var earnedBefore = await NodeEarningsAsync(grid, key, gatewayFarm);

            await grid.SendAsync(HttpMethod.Delete, "/api/v1/names/myshop-old", key, null, 204);
            held.Stop();
            var released = Stopwatch.StartNew();
            var gone = new TimeSpan[gateways.Count];
            await Task.WhenAll(gateways.Select(async (gateway, i) =>
            {
                while ((await gateway.Client.GetAsync(host)).Status != 404)
                {
                    Assert.True(released.Elapsed < TimeSpan.FromSeconds(10), $"the gateway on port {gateway.Client.Port} still serves the released name");
                    await Task.Delay(10);
                }

                gone[i] = released.Elapsed;
            }));
            output.WriteLine($"released name 404 at the gateways after {string.Join(", ", gone.Select(g => $"{g.TotalMilliseconds:0} ms"))}");
            Assert.All(gone, g => Assert.True(g <= TimeSpan.FromSeconds(1), $"a gateway served the released name for {g.TotalMilliseconds:0} ms"));

            // The release billed the last (here the only) period at once: no reminder, no minute's wait.
            var bills = (await grid.SendAsync(HttpMethod.Get, "/api/v1/names/myshop-old/bills", key, null, 200)).AsArray();
            output.WriteLine($"bills of the released name: {bills.ToJsonString()}");
            var bill = Assert.Single(bills)!;
            Assert.Equal("myshop-old", bill["name"]!.GetValue<string>());
            var lines = bill["lines"]!.AsArray().Select(l => l!).ToList();
            Assert.Equal(lines.Sum(l => l["amount"]!.GetValue<long>()), bill["amount"]!.GetValue<long>());

            var nameLine = Assert.Single(lines, l => l["kind"]?.GetValue<string>() == "name");
            var seconds = nameLine["seconds"]!.GetValue<long>();
            Assert.InRange(seconds, 1, (long)Math.Ceiling(held.Elapsed.TotalSeconds) + 1);
            Assert.Equal(namePrice * seconds / 3600, nameLine["amount"]!.GetValue<long>());

            var traffic = lines.Where(l => l["kind"]?.GetValue<string>() == "traffic").ToList();
            Assert.Equal(gateways.Select(g => g.NodeId).Order(), traffic.Select(l => l["nodeId"]!.GetValue<long>()).Order());
            Assert.Equal(countedBytes, traffic.Sum(l => l["bytes"]!.GetValue<long>()));
            var expectedEarnings = new Dictionary<long, long>();
            foreach (var ((nodeId, _), client) in gateways.Zip(clients))
            {
                var line = traffic.Single(l => l["nodeId"]!.GetValue<long>() == nodeId);
                var (bytes, amount) = (line["bytes"]!.GetValue<long>(), line["amount"]!.GetValue<long>());
                var (requests, bodies) = (client.Requests - client.NotFound, client.BodyBytes - client.NotFoundBodyBytes);
                output.WriteLine($"gateway node {nodeId}: {requests} requests, {bodies} body bytes received; billed {bytes} B for {amount}");
                Assert.Equal(gatewayFarm, line["farmId"]!.GetValue<long>());
                Assert.InRange(bytes, bodies + (requests * "GET / HTTP/1.1\r\n\r\n".Length), bodies + (requests * 400));
                Assert.Equal(bytes * networkPrice / 1_000_000_000, amount);
                expectedEarnings[nodeId] = earnedBefore.GetValueOrDefault(nodeId) + (amount * FarmerShareNumerator / FarmerShareDenominator);
            }

            // The gateway farm's owner earns FarmerShare of each traffic line (floor), on the node that carried it.
            await Poll.UntilAsync(async () =>
            {
                var earned = await NodeEarningsAsync(grid, key, gatewayFarm);
                return expectedEarnings.All(e => earned.GetValueOrDefault(e.Key) == e.Value);
            }, TimeSpan.FromSeconds(15), $"the gateway farm's nodes earn {string.Join(", ", expectedEarnings.Select(e => $"{e.Value} on node {e.Key}"))}");
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    /// <summary>
    /// Gives the gateway farm a network price that makes a few kilobytes cost something (the default, per 10^9 bytes,
    /// bills them 0) and answers the grid's name price per hour and that farm's network price per 10^9 bytes.
    /// </summary>
    private static async Task<(long NamePrice, long NetworkPrice)> PricesAsync(GridProcesses grid, string key, long gatewayFarm)
    {
        var defaults = (await grid.SendAsync(HttpMethod.Get, "/api/v1/prices", key, null, 200))["default"]!;
        await grid.SendAsync(HttpMethod.Put, $"/api/v1/farms/{gatewayFarm}/prices", key, new
        {
            cu = defaults["cu"]!.GetValue<long>(),
            su = defaults["su"]!.GetValue<long>(),
            ipu = defaults["ipu"]!.GetValue<long>(),
            nu = 2_500_000_000L,
        }, 200);
        var prices = await grid.SendAsync(HttpMethod.Get, "/api/v1/prices", key, null, 200);
        var farm = prices["farms"]!.AsArray().Single(f => f!["farmId"]!.GetValue<long>() == gatewayFarm)!;
        return (prices["default"]!["name"]!.GetValue<long>(), farm["prices"]!["nu"]!.GetValue<long>());
    }

    /// <summary>What each node of <paramref name="farmId"/> earned its farmer (the last 30 days).</summary>
    private static async Task<Dictionary<long, long>> NodeEarningsAsync(GridProcesses grid, string key, long farmId) =>
        (await grid.SendAsync(HttpMethod.Get, $"/api/v1/farms/{farmId}/earnings", key, null, 200))["nodes"]!.AsArray()
            .ToDictionary(n => n!["nodeId"]!.GetValue<long>(), n => n!["amount"]!.GetValue<long>());

    /// <summary>
    /// True when the gateway agent in <paramref name="workDir"/> saved its traffic state after <paramref name="after"/>
    /// holding nothing of <paramref name="name"/>: its counts left for the controller in a batch, and the controller
    /// acknowledged that batch after the names counted it (an agent saves the state at each heartbeat and each ack).
    /// </summary>
    private static bool TrafficAcknowledged(string workDir, string name, DateTime after)
    {
        var file = new FileInfo(Path.Combine(workDir, "gateway", "traffic.json"));
        if (!file.Exists || file.LastWriteTimeUtc <= after)
        {
            return false;
        }

        var state = JsonNode.Parse(File.ReadAllText(file.FullName))!;
        static bool Holds(JsonNode? counts, string name) => counts?.AsArray().Any(t => t!["name"]!.GetValue<string>() == name) == true;
        return !Holds(state["pending"]?["traffic"], name) && !Holds(state["current"], name);
    }

    private static void KillNine(ChildProcess agent)
    {
        using var process = Process.GetProcessById(agent.Pid);
        process.Kill(entireProcessTree: false);
    }

    private static bool HasFeature(JsonNode node, string feature) =>
        node["features"]?.AsArray().Any(f => f!.GetValue<string>() == feature) == true;

    private static IEnumerable<string> BackendStates(JsonNode name) =>
        name["backends"]!.AsArray().Select(b => b!["state"]?.GetValue<string>() ?? "none");

    private static Task<JsonNode> NameAsync(GridProcesses grid, string key, string name) =>
        grid.SendAsync(HttpMethod.Get, $"/api/v1/names/{name}", key, null, 200);

    private static Task<JsonNode> WorkloadAsync(GridProcesses grid, string key, long workloadId) =>
        grid.SendAsync(HttpMethod.Get, $"/api/v1/workloads/{workloadId}", key, null, 200);
}
