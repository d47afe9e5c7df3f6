using System.Collections.Immutable;
using System.Text.Json;
using Grid.Client;

namespace Grid.Host.Tests;

/// <summary>
/// The JSON the shared contracts put on the wire, field by field: outside clients use these names, so a rename in a
/// contract type must fail here rather than in someone's script. No host needed.
/// </summary>
public sealed class WireContractTests
{
    [Fact]
    public void RequestsKeepTheirFieldNames()
    {
        Assert.Equal("""{"name":"t","publicKey":"k"}""", Client(new CreateTwinRequest("t", "k")));
        Assert.Equal(
            """{"farmId":1,"resources":{"cru":2,"mru":3,"sru":4,"hru":5,"ipv4":1},"location":{"country":"BE","city":"Ghent"},"certification":"certified","publicKey":"pk"}""",
            Client(new CreateNodeRequest(1, ResourcesRequest.Of(new Capacity(2, 3, 4, 5, 1)), new LocationRequest("BE", "Ghent"), NodeCertification.Certified, "pk")));
        Assert.Equal(
            """{"name":"f","certification":"notCertified","publicIps":[{"ip":"185.69.166.2/24","gateway":"185.69.166.1"}],"cpuOvercommit":2}""",
            Client(new CreateFarmRequest("f", FarmCertification.NotCertified, [new PublicIpRequest("185.69.166.2/24", "185.69.166.1")], 2)));
        Assert.Equal(
            """{"resources":{"cru":1,"mru":2,"sru":0,"hru":0},"constraints":{"farmIds":[7],"antiAffinityGroup":"g","maxPricePerHour":9},"strategy":"spread"}""",
            Client(new CreateReservationRequest(
                new ResourcesRequest(1, 2, 0, 0), new ConstraintsRequest(FarmIds: [7], AntiAffinityGroup: "g", MaxPricePerHour: 9), PlacementStrategy.Spread)));
        Assert.Equal(
            """{"name":"w","type":"process","process":{"command":"/bin/sleep","args":["1"],"env":{"A":"b"}}}""",
            Client(new CreateWorkloadRequest("w", WorkloadType.Process, Process: new ProcessRequest("/bin/sleep", ["1"], ImmutableDictionary<string, string>.Empty.Add("A", "b")))));
        Assert.Equal("""{"name":"ci","roles":["tenant"]}""", Client(new CreateApiKeyRequest("ci", ["tenant"])));
    }

    [Fact]
    public void AnswersKeepTheirFieldNamesAndTheHostWritesNulls()
    {
        Assert.Equal("""{"twinId":1,"apiKey":"gt_1_x","name":"t"}""", JsonSerializer.Serialize(new TwinCreated(1, "gt_1_x", "t"), GridJson.Api));
        Assert.Equal("""{"nodeId":2,"nodeKey":"gn_2_x","farmId":1,"status":"standby"}""",
            JsonSerializer.Serialize(new NodeCreated(2, "gn_2_x", 1, NodeStatus.Standby), GridJson.Api));
        Assert.Equal("""{"maxParallel":null}""", JsonSerializer.Serialize(new DrainRequest(null), GridJson.Api));
        Assert.Equal("{}", Client(new DrainRequest(null)));
    }

    [Fact]
    public void TheAgentsHeartbeatReadsAsTheHostsHeartbeatRequest()
    {
        var heartbeat = new Heartbeat(42, [new WorkloadReport(7, 3, WorkloadState.Running, 2, "ok"), new WorkloadReport(8, 0, WorkloadState.Failed, 0, null)]);

        var read = JsonSerializer.Deserialize<HeartbeatRequest>(Client(heartbeat), GridJson.Api)!;

        Assert.Equal(42, read.Uptime);
        Assert.Equal(
            heartbeat.Workloads.Select(w => new WorkloadReportRequest(w.WorkloadId, w.Epoch, w.State, w.Restarts, w.Message)),
            read.Workloads!.Value);
    }

    [Fact]
    public void TheDesiredVersionAnAgentHoldsAndAnUnchangedAnswerKeepTheirFieldNames()
    {
        var read = JsonSerializer.Deserialize<HeartbeatRequest>(Client(new Heartbeat(42, []) { DesiredVersion = 77 }), GridJson.Api)!;
        var unchanged = JsonSerializer.Serialize(new HeartbeatResponse(NodeStatus.Up, false, []) { DesiredVersion = 77, DesiredUnchanged = true }, GridJson.Api);
        var whole = JsonSerializer.Serialize(new HeartbeatResponse(NodeStatus.Up, false, []) { DesiredVersion = 77 }, GridJson.Api);

        Assert.Equal(77, read.DesiredVersion);
        Assert.Contains("\"desiredVersion\":77", unchanged);
        Assert.Contains("\"desiredUnchanged\":true", unchanged);
        Assert.DoesNotContain("desiredUnchanged", whole);
        Assert.True(JsonSerializer.Deserialize<HeartbeatResponse>(unchanged, GridJson.Options)!.DesiredUnchanged);
    }

    [Fact]
    public void TheReportsVersionsKeepTheirFieldNames()
    {
        var sent = Client(new Heartbeat(42, []) { ReportsVersion = 9, ReportsBase = 8 });
        var read = JsonSerializer.Deserialize<HeartbeatRequest>(sent, GridJson.Api)!;
        var acknowledged = JsonSerializer.Serialize(new HeartbeatResponse(NodeStatus.Up, false, []) { ReportsAcknowledged = 9 }, GridJson.Api);
        var none = JsonSerializer.Serialize(new HeartbeatResponse(NodeStatus.Up, false, []), GridJson.Api);

        Assert.Contains("\"reportsVersion\":9", sent);
        Assert.Contains("\"reportsBase\":8", sent);
        Assert.DoesNotContain("reportsBase", Client(new Heartbeat(42, []) { ReportsVersion = 9 }));
        Assert.Equal(((long?)9, (long?)8), (read.ReportsVersion, read.ReportsBase));
        Assert.Contains("\"reportsAcknowledged\":9", acknowledged);
        Assert.DoesNotContain("reportsAcknowledged", none);
        Assert.Equal(9, JsonSerializer.Deserialize<HeartbeatResponse>(acknowledged, GridJson.Options)!.ReportsAcknowledged);
    }

    [Fact]
    public void AContainerAgentsHeartbeatCarriesFeaturesAddressAndReportDetails()
    {
        var report = new WorkloadReport(7, 3, WorkloadState.Failed, 1, "memory limit")
        {
            Reason = WorkloadReasons.OomKilled,
            Digest = "sha256:ab",
            Endpoints = [new WorkloadEndpoint("http", "10.0.0.1", 23456)],
            Logs = "out\n",
        };
        var heartbeat = new Heartbeat(42, [report]) { Features = [NodeFeatures.Process, NodeFeatures.Container], Address = "10.0.0.1" };

        var json = Client(heartbeat);
        var read = JsonSerializer.Deserialize<HeartbeatRequest>(json, GridJson.Api)!;

        Assert.Contains("\"features\":[\"process\",\"container\"],\"address\":\"10.0.0.1\"", json);
        Assert.Contains("\"reason\":\"oom-killed\",\"digest\":\"sha256:ab\",\"endpoints\":[{\"name\":\"http\",\"address\":\"10.0.0.1\",\"port\":23456}],\"logs\":\"out\\n\"", json);
        Assert.Equal(["process", "container"], read.Features!.Value.ToArray());
        Assert.Equal("10.0.0.1", read.Address);
        var w = Assert.Single(read.Workloads!.Value);
        Assert.Equal((WorkloadState.Failed, "oom-killed", "sha256:ab", "out\n"), (w.State!.Value, w.Reason, w.Digest, w.Logs));
        Assert.Equal(report.Endpoints.Value.ToArray(), w.Endpoints!.Value.ToArray());
    }

    [Fact]
    public void AContainerAgentsHeartbeatCarriesItsImageCacheAndNodesShowIt()
    {
        var heartbeat = new Heartbeat(42, []) { Features = [NodeFeatures.Container], ImageCache = new ImageCacheUsage(300, 1024) };
        var node = new NodeInfo(4, 1, 3, NodeStatus.Up, false, new Location("BE", "Ghent"), NodeCertification.Diy, Capacity.Zero,
            Capacity.Zero, Capacity.Zero, [], null, 0, default, null) { ImageCache = heartbeat.ImageCache };

        var json = Client(heartbeat);
        var read = JsonSerializer.Deserialize<HeartbeatRequest>(json, GridJson.Api)!;

        Assert.Contains("\"imageCache\":{\"used\":300,\"cap\":1024}", json);
        Assert.Equal(heartbeat.ImageCache, read.ImageCache);
        Assert.Contains("\"imageCache\":{\"used\":300,\"cap\":1024}", JsonSerializer.Serialize(node, GridJson.Api));
    }

    [Fact]
    public void ContainerAndVolumeRequestsKeepTheirFieldNames()
    {
        Assert.Equal(
            """{"name":"web","type":"container","container":{"image":"r/x@sha256:0","entrypoint":["/bin/httpd"],"args":["-f"],"env":{"A":"b"},"workdir":"/","ports":[{"name":"http","port":8080}],"mounts":[{"volume":"data","path":"/data","readOnly":true}],"restart":"never","auth":{"username":"u","password":"p"}}}""",
            Client(new CreateWorkloadRequest("web", WorkloadType.Container, Container: new ContainerRequest(
                "r/x@sha256:0", ["/bin/httpd"], ["-f"], ImmutableDictionary<string, string>.Empty.Add("A", "b"), "/",
                [new PortRequest("http", 8080)], [new MountRequest("data", "/data", true)], "never", new AuthRequest("u", "p")))));
        Assert.Equal("""{"name":"data","type":"volume","volume":{"size":1024}}""",
            Client(new CreateWorkloadRequest("data", WorkloadType.Volume, Volume: new VolumeRequest(1024))));
        Assert.Equal("""{"resources":{"cru":1,"mru":2,"sru":0,"hru":0},"constraints":{"features":["container"]},"strategy":"binpack"}""",
            Client(new CreateReservationRequest(new ResourcesRequest(1, 2, 0, 0), new ConstraintsRequest(Features: ["container"]), PlacementStrategy.Binpack)));
    }

    [Fact]
    public void WorkloadAndNodeAnswersShowReasonDigestEndpointsFeaturesAndAddress()
    {
        var spec = new WorkloadSpec("web", WorkloadType.Container, Capacity.Zero, null,
            new ContainerSpec("r/x@sha256:0", [], [], ImmutableDictionary<string, string>.Empty, null, [], [], ContainerRestart.OnFailure));
        var workload = new WorkloadInfo(1, 2, 3, spec, WorkloadState.Running, 4, 5, 0, null, default, default)
        {
            Reason = null,
            Digest = "sha256:ab",
            Endpoints = [new WorkloadEndpoint("http", "10.0.0.1", 23456)],
        };
        var node = new NodeInfo(4, 1, 3, NodeStatus.Up, false, new Location("BE", "Ghent"), NodeCertification.Diy, Capacity.Zero,
            Capacity.Zero, Capacity.Zero, [], null, 0, default, null) { Features = [NodeFeatures.Container], Address = "10.0.0.1", AgentVersion = "0.3.0" };

        var workloadJson = JsonSerializer.Serialize(workload, GridJson.Api);
        var nodeJson = JsonSerializer.Serialize(node, GridJson.Api);

        Assert.Contains("\"restart\":\"on-failure\"", workloadJson);
        Assert.EndsWith("\"reason\":null,\"digest\":\"sha256:ab\",\"endpoints\":[{\"name\":\"http\",\"address\":\"10.0.0.1\",\"port\":23456}]}", workloadJson);
        Assert.EndsWith("\"features\":[\"container\"],\"address\":\"10.0.0.1\",\"agentVersion\":\"0.3.0\"}", nodeJson);
    }

    [Fact]
    public void AGatewayAgentsHeartbeatCarriesItsAddressTrafficAndHealth()
    {
        var heartbeat = new Heartbeat(42, [])
        {
            Features = [NodeFeatures.Gateway],
            GatewayAddress = "0.0.0.0:80",
            Traffic = [new NameTraffic("shop", 10, 20)],
            TrafficSequence = 7,
            Health = [new DestinationHealth("shop", "w1-http", false, "refused")],
        };

        var json = Client(heartbeat);
        var read = JsonSerializer.Deserialize<HeartbeatRequest>(json, GridJson.Api)!;

        Assert.Contains("""
            "gatewayAddress":"0.0.0.0:80","traffic":[{"name":"shop","bytesIn":10,"bytesOut":20}],"trafficSequence":7,"health":[{"name":"shop","destinationId":"w1-http","healthy":false,"reason":"refused"}]
            """, json);
        Assert.Equal(("0.0.0.0:80", 7L), (read.GatewayAddress, read.TrafficSequence!.Value));
        Assert.Equal(heartbeat.Traffic.Value.ToArray(), read.Traffic!.Value.ToArray());
        Assert.Equal(heartbeat.Health.Value.ToArray(), read.Health!.Value.ToArray());
    }

    [Fact]
    public void NameRequestsAndAnswersKeepTheirFieldNames()
    {
        Assert.Equal("""{"name":"shop","backends":[{"workloadId":12,"port":"http"},{"url":"http://10.0.0.1"}],"healthCheck":{"path":"/","interval":"2s"}}""",
            Client(new CreateNameRequest("shop", [new NameBackendRequest(12, "http"), new NameBackendRequest(Url: "http://10.0.0.1")], new HealthCheckRequest("/", "2s"))));
        var info = new NameInfo("shop", 3, "http://shop.gw.grid.local", [new NameBackendStatus(12, "http", null, BackendState.NotRunning, "workload failed")],
            NameHealthCheck.Default, default, default);
        Assert.StartsWith(
            """{"name":"shop","twinId":3,"url":"http://shop.gw.grid.local","backends":[{"workloadId":12,"port":"http","url":null,"state":"not-running","reason":"workload failed"}],"healthCheck":{"path":"/","interval":"00:00:02"},"createdAt":""",
            JsonSerializer.Serialize(info, GridJson.Api));
        var answer = new HeartbeatResponse(NodeStatus.Up, false, [])
        {
            Routes = new GatewayRoutes(5, [new GatewayRoute("shop", "shop.gw.grid.local", [new GatewayDestination("w12-http", "http://10.0.0.1:23456")], NameHealthCheck.Default)]),
            TrafficAcknowledged = 7,
        };
        Assert.EndsWith(
            ""","routes":{"version":5,"routes":[{"name":"shop","host":"shop.gw.grid.local","destinations":[{"id":"w12-http","address":"http://10.0.0.1:23456"}],"healthCheck":{"path":"/","interval":"00:00:02"}}]},"trafficAcknowledged":7}""",
            JsonSerializer.Serialize(answer, GridJson.Api));
    }

    [Theory]
    [InlineData("""{"certification":1}""")]
    [InlineData("""{"certification":"certifiedd"}""")]
    public void EnumsAreReadOnlyAsTheirNames(string json) =>
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<CreateNodeRequest>(json, GridJson.Api));

    private static string Client<T>(T value) => JsonSerializer.Serialize(value, GridJson.Options);
}
