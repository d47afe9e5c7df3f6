using System.Collections.Immutable;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Grid.Security;

namespace Grid.Client;

/// <summary>
/// Typed client of the grid controller's HTTP API (<c>/api/v1</c>). Error answers become
/// <see cref="GridApiException"/> with the ProblemDetails title, detail and status. Reads return the JSON as the
/// controller sent it so tools can print it unchanged.
/// </summary>
/// <param name="http">Client whose <see cref="HttpClient.BaseAddress"/> is the controller's base URL.</param>
/// <param name="apiKey">A twin's api key, sent as bearer token on every call but heartbeats.</param>
public sealed class GridApiClient(HttpClient http, string? apiKey = null)
{
    /// <summary>A client with its own <see cref="HttpClient"/> for <paramref name="apiUrl"/>.</summary>
    public static GridApiClient Create(Uri apiUrl, string? apiKey = null, TimeSpan? timeout = null) =>
        new(CreateHttpClient(apiUrl, timeout ?? TimeSpan.FromSeconds(30)), apiKey);

    /// <summary>An <see cref="HttpClient"/> for <paramref name="apiUrl"/> that resolves relative API paths correctly.</summary>
    public static HttpClient CreateHttpClient(Uri apiUrl, TimeSpan timeout)
    {
        // Without the trailing slash a base address like http://h/grid would drop "grid" from relative paths.
        var baseUrl = apiUrl.AbsoluteUri.EndsWith('/') ? apiUrl : new Uri(apiUrl.AbsoluteUri + "/");
        return new HttpClient { BaseAddress = baseUrl, Timeout = timeout };
    }

    /// <summary>Creates a twin; <paramref name="publicKey"/> (base64 Ed25519) lets it sign its requests instead of sending a key.</summary>
    public Task<TwinCreated> CreateTwinAsync(string name, string? publicKey = null, CancellationToken cancellationToken = default) =>
        SendAsync<TwinCreated>(HttpMethod.Post, "api/v1/twins", new CreateTwinRequest(name, publicKey), null, cancellationToken);

    public Task<JsonElement> CreateFarmAsync(CreateFarmRequest request, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, "api/v1/farms", request, apiKey, cancellationToken);

    /// <summary>Registers a node; the answer carries the node key the agent authenticates with.</summary>
    public async Task<(NodeCreated Node, JsonElement Raw)> RegisterNodeAsync(CreateNodeRequest request, CancellationToken cancellationToken = default)
    {
        var raw = await SendAsync<JsonElement>(HttpMethod.Post, "api/v1/nodes", request, apiKey, cancellationToken);
        return (raw.Deserialize<NodeCreated>(GridJson.Options) ?? throw Malformed("node registration"), raw);
    }

    public Task<JsonElement> ListNodesAsync(CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, "api/v1/nodes", null, apiKey, cancellationToken);

    public Task<JsonElement> GetNodeAsync(long nodeId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, $"api/v1/nodes/{nodeId}", null, apiKey, cancellationToken);

    public Task<JsonElement> DrainNodeAsync(long nodeId, int? maxParallel, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, $"api/v1/nodes/{nodeId}/drain", new DrainRequest(maxParallel), apiKey, cancellationToken);

    public Task<JsonElement> UndrainNodeAsync(long nodeId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Delete, $"api/v1/nodes/{nodeId}/drain", null, apiKey, cancellationToken);

    /// <summary>Ends a node's quarantine (its farmer or the operator); answers the node.</summary>
    public Task<JsonElement> ClearQuarantineAsync(long nodeId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Delete, $"api/v1/nodes/{nodeId}/quarantine", null, apiKey, cancellationToken);

    /// <summary>Rents a whole node (a rent contract; only the caller's reservations are placed on it while rented).</summary>
    public Task<JsonElement> RentNodeAsync(long nodeId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, $"api/v1/nodes/{nodeId}/rent", null, apiKey, cancellationToken);

    /// <summary>Ends the rent of a node (its renter, or the operator).</summary>
    public Task<JsonElement> ReleaseNodeAsync(long nodeId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Delete, $"api/v1/nodes/{nodeId}/rent", null, apiKey, cancellationToken);

    /// <summary>The caller's rent contracts (the operator: all).</summary>
    public Task<JsonElement> ListRentsAsync(CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, "api/v1/rents", null, apiKey, cancellationToken);

    /// <summary>Operator: approves a solution provider with its share of the grid's part of each bill line.</summary>
    public Task<JsonElement> ApproveProviderAsync(ApproveProviderRequest request, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, "api/v1/providers", request, apiKey, cancellationToken);

    /// <summary>What a solution provider earned (the provider itself, or the operator).</summary>
    public Task<JsonElement> ProviderEarningsAsync(long twinId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, $"api/v1/providers/{twinId}/earnings", null, apiKey, cancellationToken);

    /// <summary>Operator: the approved solution providers.</summary>
    public Task<JsonElement> ListProvidersAsync(CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, "api/v1/providers", null, apiKey, cancellationToken);

    /// <summary>
    /// Sends a node's heartbeat, signed with the node's Ed25519 <paramref name="signingKey"/> when given, else
    /// carrying the node key; the answer lists its desired workloads.
    /// </summary>
    public async Task<HeartbeatResponse> HeartbeatAsync(
        long nodeId, string nodeKey, Heartbeat heartbeat, CancellationToken cancellationToken = default, string? signingKey = null) =>
        await SendAsync<HeartbeatResponse?>(HttpMethod.Post, $"api/v1/nodes/{nodeId}/heartbeat", heartbeat,
            signingKey is null ? nodeKey : null, cancellationToken, signer: signingKey is null ? null : ($"node:{nodeId}", signingKey))
        ?? throw Malformed("heartbeat");

    /// <summary>
    /// Long-poll: answers the node's desired workloads once their version differs from <paramref name="version"/>,
    /// or after <paramref name="wait"/>. Authenticated like the heartbeat.
    /// </summary>
    public async Task<DesiredWorkloads> WatchDesiredAsync(
        long nodeId, string nodeKey, long version, TimeSpan wait, CancellationToken cancellationToken = default, string? signingKey = null) =>
        await SendAsync<DesiredWorkloads?>(HttpMethod.Get,
            FormattableString.Invariant($"api/v1/nodes/{nodeId}/desired?version={version}&waitMs={(long)wait.TotalMilliseconds}"), null,
            signingKey is null ? nodeKey : null, cancellationToken, signer: signingKey is null ? null : ($"node:{nodeId}", signingKey))
        ?? throw Malformed("desired workloads");

    /// <summary>Reserves capacity; <paramref name="idempotencyKey"/> makes a retried call return the first result.</summary>
    public Task<JsonElement> ReserveAsync(CreateReservationRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, "api/v1/reservations", request, apiKey, cancellationToken, idempotencyKey);

    public Task<JsonElement> ListReservationsAsync(CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, "api/v1/reservations", null, apiKey, cancellationToken);

    public Task<JsonElement> GetReservationAsync(long reservationId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, $"api/v1/reservations/{reservationId}", null, apiKey, cancellationToken);

    public Task<JsonElement> CancelReservationAsync(long reservationId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Delete, $"api/v1/reservations/{reservationId}", null, apiKey, cancellationToken);

    public Task<JsonElement> ReservationEventsAsync(long reservationId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, $"api/v1/reservations/{reservationId}/events", null, apiKey, cancellationToken);

    public Task<JsonElement> DeployWorkloadAsync(long reservationId, CreateWorkloadRequest request, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, $"api/v1/reservations/{reservationId}/workloads", request, apiKey, cancellationToken);

    public Task<JsonElement> GetWorkloadAsync(long workloadId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, $"api/v1/workloads/{workloadId}", null, apiKey, cancellationToken);

    public Task<JsonElement> DeleteWorkloadAsync(long workloadId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Delete, $"api/v1/workloads/{workloadId}", null, apiKey, cancellationToken);

    /// <summary>Claims a name that every gateway routes to its backends.</summary>
    public Task<JsonElement> CreateNameAsync(CreateNameRequest request, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, "api/v1/names", request, apiKey, cancellationToken);

    /// <summary>The caller's names.</summary>
    public Task<JsonElement> ListNamesAsync(CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, "api/v1/names", null, apiKey, cancellationToken);

    /// <summary>A name with its backends' states.</summary>
    public Task<JsonElement> GetNameAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, $"api/v1/names/{Uri.EscapeDataString(name)}", null, apiKey, cancellationToken);

    /// <summary>Replaces a name's backends and health check.</summary>
    public Task<JsonElement> UpdateNameAsync(string name, UpdateNameRequest request, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Put, $"api/v1/names/{Uri.EscapeDataString(name)}", request, apiKey, cancellationToken);

    /// <summary>Releases a name: gateways stop routing it; it can be claimed again.</summary>
    public Task<JsonElement> DeleteNameAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Delete, $"api/v1/names/{Uri.EscapeDataString(name)}", null, apiKey, cancellationToken);

    /// <summary>The last <paramref name="tail"/> lines a workload wrote (stdout and stderr), as text.</summary>
    public async Task<string> GetWorkloadLogsAsync(long workloadId, int tail = 200, CancellationToken cancellationToken = default) =>
        (await SendForTextAsync(HttpMethod.Get, $"api/v1/workloads/{workloadId}/logs?tail={tail}", null, apiKey, cancellationToken, null, null)).Text;

    /// <summary>Adds a named API key with some of the caller's roles; the answer shows the key once.</summary>
    public Task<JsonElement> CreateKeyAsync(string name, IReadOnlyList<string>? roles, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, "api/v1/keys", new CreateApiKeyRequest(name, roles?.ToImmutableArray()), apiKey, cancellationToken);

    public Task<JsonElement> ListKeysAsync(CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, "api/v1/keys", null, apiKey, cancellationToken);

    public Task<JsonElement> RevokeKeyAsync(long keyId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Delete, $"api/v1/keys/{keyId}", null, apiKey, cancellationToken);

    public Task<JsonElement> GetLedgerAsync(long from, int limit, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, $"api/v1/ledger?from={from}&limit={limit}", null, null, cancellationToken);

    public Task<JsonElement> GetLedgerCheckpointsAsync(long from, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, $"api/v1/ledger/checkpoints?from={from}", null, null, cancellationToken);

    public Task<JsonElement> GetAccountAsync(CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, "api/v1/account", null, apiKey, cancellationToken);

    public Task<JsonElement> GetAccountTransactionsAsync(int page, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, $"api/v1/account/transactions?page={page}", null, apiKey, cancellationToken);

    public Task<JsonElement> GetPricesAsync(CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, "api/v1/prices", null, apiKey, cancellationToken);

    public Task<JsonElement> QuoteAsync(CreateReservationRequest request, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, "api/v1/quotes", request, apiKey, cancellationToken);

    public Task<JsonElement> GetBillsAsync(long reservationId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, $"api/v1/reservations/{reservationId}/bills", null, apiKey, cancellationToken);

    public Task<JsonElement> GetEarningsAsync(long farmId, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Get, $"api/v1/farms/{farmId}/earnings{Query(("from", from), ("to", to))}", null, apiKey, cancellationToken);

    /// <summary>Operator only: this client's key must be the operator key.</summary>
    public Task<JsonElement> DepositAsync(long twinId, long amount, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, $"api/v1/accounts/{twinId}/deposits", new AmountRequest(amount), apiKey, cancellationToken, idempotencyKey);

    public Task<JsonElement> WithdrawAsync(long amount, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement>(HttpMethod.Post, "api/v1/account/withdrawals", new AmountRequest(amount), apiKey, cancellationToken, idempotencyKey);

    /// <summary><c>?a=..&amp;b=..</c> of the given times (ISO 8601, escaped), or empty when none is given.</summary>
    private static string Query(params (string Name, DateTimeOffset? Value)[] parameters)
    {
        var given = parameters.Where(p => p.Value is not null)
            .Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!.Value.ToString("O", System.Globalization.CultureInfo.InvariantCulture))}").ToList();
        return given.Count == 0 ? "" : "?" + string.Join("&", given);
    }

    /// <summary>
    /// One call. A body-less success (204) reads as an undefined <see cref="JsonElement"/>
    /// (<see cref="JsonValueKind.Undefined"/>) or null.
    /// </summary>
    /// <summary>Sends one request; the answer's text, or a <see cref="GridApiException"/> for a failure status.</summary>
    private async Task<(string Text, HttpStatusCode Status)> SendForTextAsync(
        HttpMethod method, string path, object? body, string? bearer, CancellationToken cancellationToken,
        string? idempotencyKey, (string Name, string PrivateKey)? signer)
    {
        using var request = new HttpRequestMessage(method, path);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        // The body is serialized once, here, and sent with its length: a streamed body goes out in chunked encoding,
        // which costs the server a body pipe per request; the signature covers these exact bytes.
        var bytes = body is null ? [] : JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), GridJson.Options);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(bytes) { Headers = { ContentType = new("application/json") { CharSet = "utf-8" } } };
        }

        if (signer is { } s)
        {
            var target = new Uri(http.BaseAddress!, path);
            foreach (var (name, value) in RequestSignature.Sign(s.PrivateKey, s.Name, method.Method, target.PathAndQuery, bytes, DateTimeOffset.UtcNow))
            {
                request.Headers.Add(name, value);
            }
        }

        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw ToException(response.StatusCode, response.ReasonPhrase, text);
        }

        return (text, response.StatusCode);
    }

    private async Task<T> SendAsync<T>(
        HttpMethod method, string path, object? body, string? bearer, CancellationToken cancellationToken,
        string? idempotencyKey = null, (string Name, string PrivateKey)? signer = null)
    {
        var (text, status) = await SendForTextAsync(method, path, body, bearer, cancellationToken, idempotencyKey, signer);
        if (string.IsNullOrWhiteSpace(text))
        {
            return default!;
        }

        try
        {
            return JsonSerializer.Deserialize<T>(text, GridJson.Options)!;
        }
        catch (JsonException e)
        {
            throw new GridApiException((int)status, "Malformed answer", $"{method} {path}: {e.Message}");
        }
    }

    private static GridApiException ToException(HttpStatusCode status, string? reason, string body)
    {
        string? title = null;
        string? detail = null;
        try
        {
            using var problem = JsonDocument.Parse(body);
            if (problem.RootElement.ValueKind == JsonValueKind.Object)
            {
                title = problem.RootElement.TryGetProperty("title", out var t) ? t.ToString() : null;
                detail = problem.RootElement.TryGetProperty("detail", out var d) ? d.ToString() : null;
            }
        }
        catch (JsonException)
        {
            // Not ProblemDetails (a proxy's HTML page, say): show the text itself.
            detail = string.IsNullOrWhiteSpace(body) ? null : body.Trim();
        }

        return new GridApiException((int)status, title ?? reason ?? status.ToString(), detail);
    }

    private static GridApiException Malformed(string what) => new(200, "Malformed answer", $"the {what} answer was empty");
}
