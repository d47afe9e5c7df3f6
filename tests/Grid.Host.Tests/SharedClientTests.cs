using System.Net;
using Grid.Client;
using Grid.Security;

namespace Grid.Host.Tests;

/// <summary>
/// The shared client (what the agent and the CLI call the host with) against the real host: the two sides of the wire
/// are one set of contract types, so a field one side knows and the other drops shows up here.
/// </summary>
[Collection(GridAppCollection.Name)]
public sealed class SharedClientTests(GridAppFixture fixture)
{
    [Fact]
    public async Task ATwinCreatedWithAPublicKeyGetsItsNameBackAndCanSignWithTheKey()
    {
        var (privateKey, publicKey) = RequestSignature.NewKeyPair();
        var api = GridApiClient.Create(fixture.App.Address);

        var twin = await api.CreateTwinAsync("contract-twin", publicKey);

        Assert.Equal("contract-twin", twin.Name);
        Assert.StartsWith($"gt_{twin.TwinId}_", twin.ApiKey, StringComparison.Ordinal);
        // The key reached the host: a request signed with it is the twin's, without an api key.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/farms");
        foreach (var (name, value) in RequestSignature.Sign(privateKey, $"twin:{twin.TwinId}", "GET", "/api/v1/farms", [], DateTimeOffset.UtcNow))
        {
            request.Headers.Add(name, value);
        }

        using var response = await fixture.App.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ANodeRegisteredThroughTheClientAnswersItsFarmAndStatus()
    {
        var owner = GridApiClient.Create(fixture.App.Address, (await GridApiClient.Create(fixture.App.Address).CreateTwinAsync("contract-farmer")).ApiKey);
        var farm = await owner.CreateFarmAsync(new CreateFarmRequest("contract-farm", FarmCertification.NotCertified));
        var farmId = farm.GetProperty("farmId").GetInt64();

        var (node, raw) = await owner.RegisterNodeAsync(new CreateNodeRequest(
            farmId, ResourcesRequest.Of(new Capacity(4, GridClient.GiB, 8 * GridClient.GiB, 0)), new LocationRequest("Belgium", "Ghent")));

        Assert.Equal(farmId, node.FarmId);
        Assert.Equal(raw.GetProperty("status").GetString(), node.Status.ToString().ToLowerInvariant());
        Assert.Equal(node.NodeId, (await owner.GetNodeAsync(node.NodeId)).GetProperty("nodeId").GetInt64());
    }
}
