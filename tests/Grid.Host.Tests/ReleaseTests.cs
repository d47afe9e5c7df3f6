using System.Net;
using System.Text.Json.Nodes;
using Grid.Host.Hosting;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.TypeSystem;

namespace Grid.Host.Tests;

/// <summary>
/// Releases as clients see them: each silo's and each agent's version, a heartbeat of another release (unknown
/// fields, missing ones) accepted, and a call that met a silo of another release answered 503 with Retry-After.
/// </summary>
[Collection(GridAppCollection.Name)]
public sealed class ReleaseTests(GridAppFixture fixture)
{
    private readonly GridClient _grid = fixture.Client;

    [Fact]
    public async Task TheClusterShowsTheReleaseEachSiloRuns()
    {
        var (_, key) = await _grid.CreateTwinAsync();

        var silos = (await _grid.GetAsync("/api/v1/cluster", key)).AsArray();

        var active = Assert.Single(silos, s => s!["status"]!.GetValue<string>() == "active");
        Assert.Equal(GridRelease.Version, active!["version"]!.GetValue<string>());
        Assert.Matches(@"^\d+\.\d+\.\d+", GridRelease.Version);
    }

    [Fact]
    public async Task ANodeShowsItsAgentsVersionAndKeepsItWhenAnOlderAgentSaysNothing()
    {
        var (_, key) = await _grid.CreateTwinAsync();
        var (nodeId, nodeKey) = await _grid.RegisterNodeAsync(key, await _grid.CreateFarmAsync(key));

        // A newer agent: its version and a field this controller does not know yet.
        await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey,
            new { uptime = 1, workloads = Array.Empty<object>(), agentVersion = "0.4.0", gpuTemperatures = new[] { 61 } }, HttpStatusCode.OK);
        Assert.Equal("0.4.0", (await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key))["agentVersion"]!.GetValue<string>());

        // An agent from before versions: no agentVersion, no workloads field at all.
        var answer = await _grid.SendOkAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey, new { uptime = 2 }, HttpStatusCode.OK);
        Assert.Equal("up", answer["status"]!.GetValue<string>());
        Assert.Equal("0.4.0", (await _grid.GetAsync($"/api/v1/nodes/{nodeId}", key))["agentVersion"]!.GetValue<string>());

        var (status, problem) = await _grid.SendAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey,
            new { uptime = 3, agentVersion = new string('9', GridRelease.MaxLength + 1) });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(problem!["errors"]!["agentVersion"]);
    }

    [Fact]
    public async Task ACallThatMetASiloLackingAGrainMethodIsAnswered503WithRetryAfter()
    {
        var services = fixture.App.Services;
        var mismatch = UnknownGrainMethod(services);
        Assert.Contains("Unable to resolve type alias", mismatch.Message, StringComparison.Ordinal);

        // As the caller receives it: the old silo's serializer sent the exception back over the wire.
        var serializer = services.GetRequiredService<Serializer>();
        var received = serializer.Deserialize<Exception>(serializer.SerializeToArray<Exception>(mismatch));
        Assert.IsType<TypeLoadException>(received);

        foreach (var failure in new[] { received, new OrleansException("Call failed", received), new AggregateException(received) })
        {
            var (status, retryAfter, body) = await HandleAsync(services, failure);

            Assert.Equal(StatusCodes.Status503ServiceUnavailable, status);
            Assert.Equal("1", retryAfter);
            Assert.Equal(503, body["status"]!.GetValue<int>());
            Assert.Contains("another release", body["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        var (unexpected, noRetry, _) = await HandleAsync(services, new InvalidOperationException("a defect"));
        Assert.Equal((StatusCodes.Status500InternalServerError, ""), (unexpected, noRetry));
    }

    /// <summary>
    /// The exception Orleans' serializer throws on a silo that lacks a grain method: the alias of a real method's
    /// invokable with the method's id changed to one this build does not have, parsed by the silo's own converter.
    /// </summary>
    private static TypeLoadException UnknownGrainMethod(IServiceProvider services)
    {
        var converter = services.GetRequiredService<TypeConverter>();
        var invokable = typeof(Grid.Grains.INodeGrain).Assembly.GetTypes()
            .First(t => t.Name.Contains("INodeGrain", StringComparison.Ordinal) && t.Name.StartsWith("Invokable_", StringComparison.Ordinal));
        var alias = converter.Format(invokable);
        var lastQuote = alias.LastIndexOf('"');
        var firstOfLast = alias.LastIndexOf('"', lastQuote - 1);
        var unknown = string.Concat(alias.AsSpan(0, firstOfLast + 1), "a-method-of-a-later-release", alias.AsSpan(lastQuote));
        return Assert.Throws<TypeLoadException>(() => converter.Parse(unknown));
    }

    private static async Task<(int Status, string RetryAfter, JsonNode Body)> HandleAsync(IServiceProvider services, Exception exception)
    {
        using var scope = services.CreateScope();
        var http = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        http.Response.Body = new MemoryStream();
        var handler = scope.ServiceProvider.GetServices<IExceptionHandler>().OfType<GridExceptionHandler>().Single();

        Assert.True(await handler.TryHandleAsync(http, exception, CancellationToken.None));

        http.Response.Body.Position = 0;
        return (http.Response.StatusCode, http.Response.Headers.RetryAfter.ToString(), (await JsonNode.ParseAsync(http.Response.Body))!);
    }
}
