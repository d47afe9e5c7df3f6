using System.Net;
using System.Text.Json.Nodes;
using Grid.Security;

namespace Grid.Host.Tests;

/// <summary>
/// An address whose credentials keep failing has them checked at a bounded rate only, and refused (429) unchecked beyond
/// it, until its budget of failures refills; callers without credentials, and public reads, are not held up by it.
/// </summary>
public sealed class FailedAuthenticationTests : IAsyncLifetime
{
    private GridApp _app = null!;

    // A failure back every 10 s, a check every 10 s while failing: slow enough that a busy machine cannot refill either
    // between two steps of the test.
    public async Task InitializeAsync() => _app = await GridApp.StartAsync(
        "--Grid:Limits:FailedAuthenticationsPerMinutePerIp=6", "--Grid:Limits:FailedAuthenticationBurstPerIp=3",
        "--Grid:Limits:ChecksPerMinutePerFailingIp=6");

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task AnAddressWhoseCredentialsKeepFailingHasThemCheckedAtABoundedRateAndRefusedUncheckedBeyondIt()
    {
        var grid = new GridClient(_app.Client);
        var (twinId, key) = await grid.CreateTwinAsync("signer");
        var (privateKey, publicKey) = RequestSignature.NewKeyPair();
        await grid.SendOkAsync(HttpMethod.Put, "/api/v1/twins/me/public-key", key, new { publicKey }, HttpStatusCode.NoContent);

        // Three wrong keys are checked and refused for what they are: the address's budget of failures is spent.
        var wrongKey = key[..^4] + (key.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA");
        for (var i = 0; i < 3; i++)
        {
            var (status, problem) = await SendAsync(Bearer(wrongKey));
            Assert.True(status == HttpStatusCode.Unauthorized, $"wrong key {i + 1}: {(int)status} {problem?.ToJsonString()}");
            Assert.Contains("not valid", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        // Its callers that prove who they are are still checked and served, at the rate for a failing address (one here).
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(Signed(Sign(privateKey, twinId)))).Status);

        // Beyond that rate, credentials are not checked: a wrong key, and a good signature alike.
        var (refused, tooMany) = await SendAsync(Bearer(wrongKey));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused);
        Assert.Equal("Too many failed authentications", tooMany!["title"]!.GetValue<string>());
        var signed = Sign(privateKey, twinId);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await SendAsync(Signed(signed))).Status);

        // Requests without credentials are not refused for it: public reads are served.
        Assert.Equal(HttpStatusCode.OK, (await grid.SendAsync(HttpMethod.Get, "/stats", null, null)).Status);

        // Once a check is allowed again, the very same signed request is accepted: its refusal above did not check it,
        // so its nonce is still unused.
        await Grid.Testing.Poll.UntilAsync(async () => (await SendAsync(Signed(signed))).Status == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60), "the signed request is accepted once its address may be checked again");
    }

    private static IReadOnlyList<KeyValuePair<string, string>> Sign(string privateKey, long twinId) =>
        RequestSignature.Sign(privateKey, $"twin:{twinId}", "GET", "/api/v1/farms", [], DateTimeOffset.UtcNow);

    private static HttpRequestMessage Bearer(string key) =>
        new(HttpMethod.Get, "/api/v1/farms") { Headers = { Authorization = new("Bearer", key) } };

    private static HttpRequestMessage Signed(IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/farms");
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    /// <summary>Sends the request; a refusal must be a problem, and a 429 must say when to retry.</summary>
    private async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpRequestMessage request)
    {
        using (request)
        {
            using var response = await _app.Client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "Retry-After in seconds");
            }

            if ((int)response.StatusCode >= 400)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }

            return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
        }
    }
}
