using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grid.Client;
using Grid.Host.Api;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>
/// Heartbeat bodies are read by the endpoint itself (<see cref="HeartbeatBody"/>, <see cref="WorkloadReportReader"/>):
/// they read as the API's JSON reads them, are refused as it refuses them, and arrive in any number of pieces.
/// </summary>
[Collection(GridAppCollection.Name)]
public sealed class HeartbeatBodyTests(GridAppFixture fixture)
{
    private static readonly JsonSerializerOptions Read = new HeartbeatAnswer.Json(Options.Create(Api())).Read;

    private readonly GridClient _grid = fixture.Client;

    public static TheoryData<string> Bodies => new()
    {
        """{"uptime":5,"workloads":[{"workloadId":7,"epoch":2,"state":"running","restarts":1,"message":"ok"}]}""",
        """{"uptime":5,"workloads":[{"workloadId":7,"epoch":2,"state":"failed","restarts":0,"message":null,"reason":"oom-killed","digest":"sha256:ab","endpoints":[{"name":"http","address":"10.0.0.1","port":8080}],"logs":"a\nb"}]}""",
        // Other casings, numbers as strings (web defaults), unknown members of any shape, members in another order.
        """{"Uptime":"5","Workloads":[{"WORKLOADID":"7","Epoch":2,"STATE":"stopped","extra":{"a":[1,{"b":null}]},"restarts":"3"}]}""",
        """{"uptime":5,"workloads":[{"state":"pending","epoch":0,"workloadId":9,"later":[1,2,3]},null,{}],"desiredVersion":12}""",
        """{"uptime":5,"workloads":[{"workloadId":7,"workloadId":8,"epoch":1,"state":"running"}]}""",
        """{"uptime":5,"workloads":[{"workloadId":null,"epoch":null,"state":null,"restarts":null,"endpoints":null}]}""",
        """{"uptime":5,"workloads":[{"message":"\u00e9\u0001 \"quoted\""}]}""",
    };

    public static TheoryData<string> Refused => new()
    {
        """{"uptime":5,"workloads":[{"workloadId":true}]}""",
        """{"uptime":5,"workloads":[{"workloadId":"seven"}]}""",
        """{"uptime":5,"workloads":[{"epoch":1.5}]}""",
        """{"uptime":5,"workloads":[{"state":"dancing"}]}""",
        """{"uptime":5,"workloads":[{"state":3}]}""",
        """{"uptime":5,"workloads":[{"restarts":99999999999}]}""",
        """{"uptime":5,"workloads":[{"message":5}]}""",
        """{"uptime":5,"workloads":[{"endpoints":{}}]}""",
        """{"uptime":5,"workloads":[[1]]}""",
        """{"uptime":5,"workloads":[{"workloadId":1""",
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public void ABodyReadsAsTheApisJsonReadsIt(string body)
    {
        var api = JsonSerializer.Deserialize<HeartbeatRequest>(body, GridJson.Api);
        var read = JsonSerializer.Deserialize<HeartbeatRequest>(body, Read);

        Assert.Equal(JsonSerializer.Serialize(api, GridJson.Api), JsonSerializer.Serialize(read, GridJson.Api));
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public void ABodyTheApisJsonRefusesIsRefused(string body)
    {
        Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<HeartbeatRequest>(body, GridJson.Api));
        Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<HeartbeatRequest>(body, Read));
    }

    [Fact]
    public async Task AHeartbeatWhoseBodyArrivesInManyPiecesIsRead()
    {
        var (key, nodeId, nodeKey, workloadId) = await NodeWithWorkloadAsync();
        var padding = new string('x', 20_000);
        var body = $$"""{"uptime":12,"workloads":[{"workloadId":{{workloadId}},"epoch":1,"state":"running","restarts":0,"message":"{{padding}}"}]}""";

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat")
        {
            Content = new PiecesContent(Encoding.UTF8.GetBytes(body), 997),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", nodeKey);
        using var response = await fixture.App.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(workloadId, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["desired"]![0]!["workloadId"]!.GetValue<long>());
        await Grid.Testing.Poll.UntilAsync(async () => (await _grid.GetAsync($"/api/v1/workloads/{workloadId}", key))["state"]!.GetValue<string>() == "running",
            TimeSpan.FromSeconds(10), "the report read from the pieces reaches the workload");
    }

    [Fact]
    public async Task BodiesThatAreNotAHeartbeatAreRefusedWithAProblem()
    {
        var (_, nodeId, nodeKey, _) = await NodeWithWorkloadAsync();
        foreach (var (content, status, detail) in new (HttpContent?, HttpStatusCode, string)[]
                 {
                     (new StringContent("{\"uptime\":1}", Encoding.UTF8, "text/plain"), HttpStatusCode.UnsupportedMediaType, ""),
                     (null, HttpStatusCode.BadRequest, "A JSON request body is required."),
                     (new StringContent("", Encoding.UTF8, "application/json"), HttpStatusCode.BadRequest, "A JSON request body is required."),
                     (new StringContent("null", Encoding.UTF8, "application/json"), HttpStatusCode.BadRequest, "was not provided"),
                     (new StringContent("{\"uptime\":1,", Encoding.UTF8, "application/json"), HttpStatusCode.BadRequest, "as JSON"),
                     (new StringContent("{\"uptime\":1,\"workloads\":[{\"state\":\"dancing\"}]}", Encoding.UTF8, "application/json"), HttpStatusCode.BadRequest, "as JSON"),
                 })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat") { Content = content };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", nodeKey);
            using var response = await fixture.App.Client.SendAsync(request);

            var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync());
            Assert.True(response.StatusCode == status, $"{content?.Headers.ContentType}: {response.StatusCode} {problem}");
            BadInputTests.AssertProblem(problem, (int)status);
            Assert.True(problem!["detail"]?.GetValue<string>() is var said && (detail.Length == 0 || said?.Contains(detail, StringComparison.Ordinal) == true), $"{status}: {problem}");
        }
    }

    private async Task<(string Key, long NodeId, string NodeKey, long WorkloadId)> NodeWithWorkloadAsync()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var farm = await _grid.CreateFarmAsync(key);
        var (nodeId, nodeKey) = await _grid.UpNodeAsync(key, farm);
        var reservation = (await _grid.ReserveAsync(key, new { resources = new { cru = 1, mru = GiB }, constraints = new { farmIds = new[] { farm } } })).Body!;
        var workload = await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/reservations/{reservation["reservationId"]!.GetValue<long>()}/workloads", key,
            new { name = "w", type = "process", resources = new { mru = 64L << 20 }, process = new { command = "/bin/sleep", args = new[] { "60" } } }, HttpStatusCode.Created);
        return (key, nodeId, nodeKey, workload["workloadId"]!.GetValue<long>());
    }

    private static JsonOptions Api()
    {
        var options = new JsonOptions();
        GridJson.Configure(options.SerializerOptions);
        return options;
    }

    /// <summary>A JSON body written in pieces of a given size, each flushed (chunked: no length).</summary>
    private sealed class PiecesContent : HttpContent
    {
        private readonly byte[] _body;
        private readonly int _piece;

        public PiecesContent(byte[] body, int piece)
        {
            (_body, _piece) = (body, piece);
            Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var at = 0; at < _body.Length; at += _piece)
            {
                await stream.WriteAsync(_body.AsMemory(at, Math.Min(_piece, _body.Length - at)));
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
