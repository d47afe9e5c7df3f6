using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grid.Client;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// Tenants and node agents as the cluster sees them during a failure: reservation creates (with an
/// Idempotency-Key, so a retry is safe) and cancels spread over every silo, retried on 503 or a dead
/// connection, and heartbeats for the nodes. Records every answer to check afterwards.
/// </summary>
public sealed class ClusterLoad(GridProcesses grid, string apiKey)
{
    private readonly ConcurrentDictionary<long, byte> _active = new();
    private readonly ConcurrentDictionary<long, byte> _cancelled = new();
    private readonly ConcurrentQueue<(DateTime At, int Silo, HttpStatusCode Status, bool Heartbeat)> _answers = new();
    private readonly ConcurrentQueue<(DateTime At, int Silo)> _unavailableWithoutRetryAfter = new();
    private int _next;

    /// <summary>How long one heartbeat may take before the node tries again (the tests' node timeout is 5 s).</summary>
    public static readonly TimeSpan HeartbeatRequestTimeout = TimeSpan.FromSeconds(2);

    public IReadOnlyCollection<long> Active => [.. _active.Keys];

    public IReadOnlyCollection<long> Cancelled => [.. _cancelled.Keys];

    public IEnumerable<(DateTime At, int Silo, HttpStatusCode Status, bool Heartbeat)> Answers => _answers;

    /// <summary>The 503 answers that did not say when to retry (no <c>Retry-After</c>).</summary>
    public IEnumerable<(DateTime At, int Silo)> UnavailableWithoutRetryAfter => _unavailableWithoutRetryAfter;

    /// <summary>Silos the load avoids (killed on purpose); requests already in flight there fail and are retried.</summary>
    public ConcurrentDictionary<int, byte> Down { get; } = new();

    public async Task RunAsync(int workers, TimeSpan duration, int ipv4Every, CancellationToken cancellationToken = default)
    {
        var until = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async worker =>
        {
            var random = new Random(worker);
            var op = 0;
            while (until.Elapsed < duration && !cancellationToken.IsCancellationRequested)
            {
                op++;
                if (random.Next(5) == 0 && _active.Keys.OrderBy(_ => random.Next()).FirstOrDefault() is > 0 and var victim)
                {
                    await CancelAsync(victim);
                }
                else
                {
                    await CreateAsync($"w{worker}-op{op}", ipv4: op % ipv4Every == 0 ? 1 : 0);
                }
            }
        }));
    }

    public async Task CreateAsync(string idempotencyKey, int ipv4)
    {
        var body = new { resources = new { cru = 1, mru = 128L << 20, ipv4 } };
        while (true)
        {
            var (status, json) = await SendAsync(HttpMethod.Post, "/api/v1/reservations", body, idempotencyKey);
            if (status == HttpStatusCode.Created)
            {
                _active[json!["reservationId"]!.GetValue<long>()] = 0;
                return;
            }

            if (status is HttpStatusCode.Conflict)
            {
                return;
            }
        }
    }

    public async Task CancelAsync(long reservationId)
    {
        if (!_active.TryRemove(reservationId, out _))
        {
            return;
        }

        while (true)
        {
            var (status, _) = await SendAsync(HttpMethod.Delete, $"/api/v1/reservations/{reservationId}", null, null);
            if (status is HttpStatusCode.NoContent)
            {
                _cancelled[reservationId] = 0;
                return;
            }
        }
    }

    /// <summary>
    /// Heartbeats every node through the silos in turn until cancelled, as real agents would: each node on its own
    /// beat, each request given up after a time (an agent's request timeout), so one slow answer delays no other
    /// node and no later beat.
    /// </summary>
    public Task HeartbeatAsync(IReadOnlyList<(long NodeId, string NodeKey)> nodes, CancellationToken cancellationToken) =>
        Task.WhenAll(nodes.Select(async node =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
            do
            {
                var silo = PickSilo();
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/nodes/{node.NodeId}/heartbeat")
                    {
                        Content = JsonContent.Create(new { uptime = 1, workloads = Array.Empty<object>() }),
                    };
                    request.Headers.Authorization = new("Bearer", node.NodeKey);
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    timeout.CancelAfter(HeartbeatRequestTimeout);
                    using var response = await grid.Silos[silo].Http.SendAsync(request, timeout.Token);
                    _answers.Enqueue((DateTime.UtcNow, silo, response.StatusCode, true));
                    NoteRetryAfter(response, silo);
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    // An agent retries on its next beat.
                    _answers.Enqueue((DateTime.UtcNow, silo, 0, true));
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).AsTask().ContinueWith(t => !t.IsCanceled && t.Result, TaskScheduler.Default));
        }));

    private async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpMethod method, string path, object? body, string? idempotencyKey)
    {
        var silo = PickSilo();
        try
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Authorization = new("Bearer", apiKey);
            if (idempotencyKey is not null)
            {
                request.Headers.Add("Idempotency-Key", idempotencyKey);
            }

            if (body is not null)
            {
                request.Content = JsonContent.Create(body, options: GridJson.Api);
            }

            using var response = await grid.Silos[silo].Http.SendAsync(request);
            _answers.Enqueue((DateTime.UtcNow, silo, response.StatusCode, false));
            NoteRetryAfter(response, silo);
            var text = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(wait.TotalMilliseconds, 300)));
            }

            return (response.StatusCode, string.IsNullOrEmpty(text) ? null : JsonNode.Parse(text));
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            // The silo died under the request: the outcome is unknown, so the caller retries (safely) elsewhere.
            // Recorded with status 0: an answer nobody got.
            _answers.Enqueue((DateTime.UtcNow, silo, 0, false));
            await Task.Delay(100);
            return (0, null);
        }
    }

    private void NoteRetryAfter(HttpResponseMessage response, int silo)
    {
        if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is null)
        {
            _unavailableWithoutRetryAfter.Enqueue((DateTime.UtcNow, silo));
        }
    }

    private int PickSilo()
    {
        for (var i = 0; i < grid.Silos.Count; i++)
        {
            var silo = (int)((uint)Interlocked.Increment(ref _next) % (uint)grid.Silos.Count);
            if (!Down.ContainsKey(silo))
            {
                return silo;
            }
        }

        return 0;
    }
}
