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
/// killed gateway leaves the other serving, a released name is 404 at both gateways within a second, and the
/// gateways' traffic is counted for the name.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class GatewayEndToEndTests(ITestOutputHelper output)
{
    private const string Domain = "gw.grid.local";

    private static readonly string[] AgentOptions =
        ["--heartbeat-interval", "500ms", "--stop-on-disconnect-after", "3s", "--stop-grace", "1s", "--public-address", "127.0.0.1"];

    [Fact]
    public async Task ANameReachesItsReplicasThroughEveryGatewayFollowsAMoveSurvivesAGatewayLossAndIsGoneWhenReleased()
    {
        await using var registry = await LocalRegistry.StartAsync();
        var image = await registry.PushAsync(await TestImages.ShellAsync(), "shop/web");

        await using var grid = new GridProcesses();
        await grid.StartHostAsync("--Grid:Health:HeartbeatInterval=00:00:00.500", "--Grid:Health:HeartbeatTimeout=00:00:02",
            "--Grid:Health:RejoinAfter=00:00:02", "--Grid:Health:ScanInterval=00:00:00.200", $"--Grid:Gateways:Domain={Domain}");
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
            await ReleaseAsync(grid, key, workloads, gateways.Select(g => g.Client).ToList());

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

    /// <summary>A second name on the same replicas is served by both gateways; once released it is 404 at both within 1 s.</summary>
    private async Task ReleaseAsync(GridProcesses grid, string key, List<long> workloads, List<GatewayClient> gateways)
    {
        await grid.SendAsync(HttpMethod.Post, "/api/v1/names", key, new
        {
            name = "myshop-old",
            backends = workloads.Select(w => new { workloadId = w, port = "http" }),
            healthCheck = new { path = "/", interval = "1s" },
        }, 201);
        var host = $"myshop-old.{Domain}";
        foreach (var client in gateways)
        {
            await Poll.UntilAsync(() => client.ServesAsync(host), TimeSpan.FromSeconds(30), $"the gateway on port {client.Port} serves the new name",
                TimeSpan.FromMilliseconds(20));
        }

        await grid.SendAsync(HttpMethod.Delete, "/api/v1/names/myshop-old", key, null, 204);
        var released = Stopwatch.StartNew();
        var gone = new TimeSpan[gateways.Count];
        await Task.WhenAll(gateways.Select(async (client, i) =>
        {
            while ((await client.GetAsync(host)).Status != 404)
            {
                Assert.True(released.Elapsed < TimeSpan.FromSeconds(10), $"the gateway on port {client.Port} still serves the released name");
                await Task.Delay(10);
            }

            gone[i] = released.Elapsed;
        }));
        output.WriteLine($"released name 404 at the gateways after {string.Join(", ", gone.Select(g => $"{g.TotalMilliseconds:0} ms"))}");
        Assert.All(gone, g => Assert.True(g <= TimeSpan.FromSeconds(1), $"a gateway served the released name for {g.TotalMilliseconds:0} ms"));
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
