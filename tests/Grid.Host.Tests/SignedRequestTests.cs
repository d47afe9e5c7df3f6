using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Grid.Agent;
using Grid.Client;
using Grid.Security;
using static Grid.Host.Tests.GridClient;

namespace Grid.Host.Tests;

/// <summary>Requests signed with a twin's or node's Ed25519 key instead of a bearer key.</summary>
[Collection(GridAppCollection.Name)]
public sealed class SignedRequestTests(GridAppFixture fixture)
{
    private readonly GridClient _grid = fixture.Client;

    [Fact]
    public async Task ATwinsSignedRequestIsAcceptedOnceAndRefusedWhenReplayedExpiredOrTampered()
    {
        var (twinId, key) = await _grid.CreateTwinAsync("signer");
        var (privateKey, publicKey) = RequestSignature.NewKeyPair();
        await _grid.SendOkAsync(HttpMethod.Put, "/api/v1/twins/me/public-key", key, new { publicKey }, HttpStatusCode.NoContent);
        var signer = $"twin:{twinId}";

        var farm = Encoding.UTF8.GetBytes("""{"name":"signed farm"}""");
        var headers = RequestSignature.Sign(privateKey, signer, "POST", "/api/v1/farms", farm, DateTimeOffset.UtcNow);
        var (created, json) = await SendAsync(HttpMethod.Post, "/api/v1/farms", farm, headers);
        Assert.True(created == HttpStatusCode.Created, json?.ToJsonString());
        Assert.Equal(twinId, json!["twinId"]!.GetValue<long>());

        await AssertRefusedAsync(HttpMethod.Post, "/api/v1/farms", farm, headers, "already used");

        var old = RequestSignature.Sign(privateKey, signer, "GET", "/api/v1/farms", [], DateTimeOffset.UtcNow.AddSeconds(-61));
        await AssertRefusedAsync(HttpMethod.Get, "/api/v1/farms", [], old, "expired");

        var fresh = RequestSignature.Sign(privateKey, signer, "POST", "/api/v1/farms", farm, DateTimeOffset.UtcNow);
        await AssertRefusedAsync(HttpMethod.Post, "/api/v1/farms", Encoding.UTF8.GetBytes("""{"name":"other farm"}"""), fresh, "SHA-256");

        var elsewhere = RequestSignature.Sign(privateKey, signer, "GET", "/api/v1/farms", [], DateTimeOffset.UtcNow);
        await AssertRefusedAsync(HttpMethod.Get, "/api/v1/reservations", [], elsewhere, "does not verify");

        var (otherPrivate, _) = RequestSignature.NewKeyPair();
        var forged = RequestSignature.Sign(otherPrivate, signer, "GET", "/api/v1/farms", [], DateTimeOffset.UtcNow);
        await AssertRefusedAsync(HttpMethod.Get, "/api/v1/farms", [], forged, "does not verify");

        var farms = (await _grid.GetAsync("/api/v1/farms", key)).AsArray();
        Assert.Single(farms);
    }

    [Fact]
    public async Task ASignedRequestReplayedUnderAnotherSpellingOfItsSignerIsRefused()
    {
        // The signer is not part of what is signed (the key it names is): "twin:042" names the same twin and key as
        // "twin:42", so its nonce must be the same signer's nonce, or a captured request could be replayed once per
        // spelling within its minute.
        var (twinId, key) = await _grid.CreateTwinAsync("respelled signer");
        var (privateKey, publicKey) = RequestSignature.NewKeyPair();
        await _grid.SendOkAsync(HttpMethod.Put, "/api/v1/twins/me/public-key", key, new { publicKey }, HttpStatusCode.NoContent);
        var farm = Encoding.UTF8.GetBytes("""{"name":"signed once"}""");
        var headers = RequestSignature.Sign(privateKey, $"twin:{twinId}", "POST", "/api/v1/farms", farm, DateTimeOffset.UtcNow);
        var (created, json) = await SendAsync(HttpMethod.Post, "/api/v1/farms", farm, headers);
        Assert.True(created == HttpStatusCode.Created, json?.ToJsonString());

        foreach (var spelling in new[] { $"twin:0{twinId}", $"twin:00{twinId}" })
        {
            var replayed = headers.Select(h => h.Key == RequestSignature.SignerHeader ? new KeyValuePair<string, string>(h.Key, spelling) : h).ToList();
            await AssertRefusedAsync(HttpMethod.Post, "/api/v1/farms", farm, replayed, "already used");
        }

        Assert.Single((await _grid.GetAsync("/api/v1/farms", key)).AsArray());
    }

    [Fact]
    public async Task ATwinWithoutAPublicKeyCannotSign()
    {
        var (twinId, _) = await _grid.CreateTwinAsync("no key");
        var (privateKey, _) = RequestSignature.NewKeyPair();
        var headers = RequestSignature.Sign(privateKey, $"twin:{twinId}", "GET", "/api/v1/farms", [], DateTimeOffset.UtcNow);
        await AssertRefusedAsync(HttpMethod.Get, "/api/v1/farms", [], headers, "no registered Ed25519 public key");
    }

    [Fact]
    public async Task AnAgentRegisteredWithItsOwnKeyPairSignsItsHeartbeats()
    {
        var (_, key) = await _grid.CreateTwinAsync("farmer");
        var farmId = await _grid.CreateFarmAsync(key);
        var dir = Directory.CreateTempSubdirectory("grid-node-key-").FullName;
        try
        {
            var signing = NodeSigningKey.Create(dir);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, NodeSigningKey.FileName)));
            }

            var api = GridApiClient.Create(fixture.App.Address, key);
            var (node, _) = await api.RegisterNodeAsync(new CreateNodeRequest(
                farmId, new ResourcesRequest(2, GiB, GiB, 0), new LocationRequest("BE", "Ghent"), PublicKey: signing.PublicKey));

            var answer = await api.HeartbeatAsync(node.NodeId, nodeKey: "", new Heartbeat(5, []), signingKey: NodeSigningKey.LoadPrivateKey(dir));
            Assert.NotNull(answer);
            Assert.Equal("up", (await _grid.GetAsync($"/api/v1/nodes/{node.NodeId}", key))["status"]!.GetValue<string>());

            // Another node's valid signature does not make a heartbeat of this node.
            var (other, _) = await api.RegisterNodeAsync(new CreateNodeRequest(
                farmId, new ResourcesRequest(2, GiB, GiB, 0), new LocationRequest("BE", "Ghent"), PublicKey: NodeSigningKey.Create(Path.Combine(dir, "other")).PublicKey));
            var headers = RequestSignature.Sign(NodeSigningKey.LoadPrivateKey(Path.Combine(dir, "other"))!, $"node:{other.NodeId}",
                "POST", $"/api/v1/nodes/{node.NodeId}/heartbeat", Encoding.UTF8.GetBytes("""{"uptime":1}"""), DateTimeOffset.UtcNow);
            var (status, _) = await SendAsync(HttpMethod.Post, $"/api/v1/nodes/{node.NodeId}/heartbeat", Encoding.UTF8.GetBytes("""{"uptime":1}"""), headers);
            Assert.Equal(HttpStatusCode.Unauthorized, status);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(40, 1)] // a heartbeat's size, in one piece
    [InlineData(12_000, 3)] // hashed where it lies in the server's pipe, in several pieces (its buffers are 4 KiB)
    [InlineData(40_000, 3)] // beyond that (GridAuthenticationHandler.InPipeBodyBytes): hashed from a rewindable copy
    public async Task ASignedBodyIsHashedAndThenReadWholeByTheEndpoint(int size, int pieces)
    {
        var (twinId, key) = await _grid.CreateTwinAsync($"signs {size} bytes");
        var (privateKey, publicKey) = RequestSignature.NewKeyPair();
        await _grid.SendOkAsync(HttpMethod.Put, "/api/v1/twins/me/public-key", key, new { publicKey }, HttpStatusCode.NoContent);

        // JSON padded with spaces to the size: the farm is made only if the endpoint read the body to its end.
        var name = $"farm of {size}";
        var json = $$"""{"name":"{{name}}"}""";
        var body = Encoding.UTF8.GetBytes(json[..^1] + new string(' ', Math.Max(0, size - json.Length)) + "}");
        var headers = RequestSignature.Sign(privateKey, $"twin:{twinId}", "POST", "/api/v1/farms", body, DateTimeOffset.UtcNow);
        var (created, farm) = await SendAsync(HttpMethod.Post, "/api/v1/farms", body, headers, pieces);
        Assert.True(created == HttpStatusCode.Created, farm?.ToJsonString());
        Assert.Equal(name, farm!["name"]!.GetValue<string>());

        // The same size with one byte changed after signing is refused, and makes nothing.
        var tampered = (byte[])body.Clone();
        tampered[^2] = (byte)'\n';
        var fresh = RequestSignature.Sign(privateKey, $"twin:{twinId}", "POST", "/api/v1/farms", body, DateTimeOffset.UtcNow);
        var (status, problem) = await SendAsync(HttpMethod.Post, "/api/v1/farms", tampered, fresh, pieces);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("SHA-256", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Single((await _grid.GetAsync("/api/v1/farms", key)).AsArray());
    }

    private async Task AssertRefusedAsync(HttpMethod method, string path, byte[] body, IReadOnlyList<KeyValuePair<string, string>> headers, string reason)
    {
        var (status, problem) = await SendAsync(method, path, body, headers);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains(reason, problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(
        HttpMethod method, string path, byte[] body, IReadOnlyList<KeyValuePair<string, string>> headers, int pieces = 1)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body.Length > 0)
        {
            request.Content = pieces == 1 ? new ByteArrayContent(body) : new PiecesContent(body, pieces);
            request.Content.Headers.ContentType = new("application/json");
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await fixture.App.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>
    /// A body with its length, sent in <paramref name="pieces"/> flushed writes, a moment apart, so the server's reads
    /// see it arrive in parts.
    /// </summary>
    private sealed class PiecesContent(byte[] body, int pieces) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            var size = (body.Length + pieces - 1) / pieces;
            for (var start = 0; start < body.Length; start += size)
            {
                await stream.WriteAsync(body.AsMemory(start, Math.Min(size, body.Length - start)));
                await stream.FlushAsync();
                await Task.Delay(20);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }
}
