using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Grid.Client;
using Grid.Security;

namespace Grid.Bench.Scenarios;

/// <summary>
/// Heartbeats per second ingested over real HTTP (Kestrel) from many concurrent node clients, each with its own node
/// key and rate limit: nodes that report no workload; nodes that report 100 each (all of their workloads every heartbeat,
/// as agents older than the reports' versions do and as every agent does until the controller acknowledges a version,
/// holding the desired list they were answered: answered "unchanged"); then the same nodes once the controller has
/// acknowledged their reports, while nothing changes (an agent sends only the reports that changed: none); and the
/// first case's nodes signing each heartbeat with their Ed25519 key instead of sending their node key, as agents
/// registered with <c>grid agent register</c> do. All as ratios to the <see cref="MinimalEndpoint"/>, measured in
/// windows taken in turn with theirs.
/// </summary>
public static class HeartbeatScenario
{
    /// <summary>Workloads each node of the second case runs and reports.</summary>
    public const int ReportsPerNode = 100;

    /// <summary>Windows each case and its ceilings are measured in, in turn (see <see cref="Measure.InterleaveAsync"/>).</summary>
    private const int Rounds = 5;

    public static async Task RunAsync(BenchScale scale, double baseline, List<BenchRow> rows)
    {
        // The ceiling alone first, before the grid starts beside it (informative: the windows the ratios use are taken
        // with the grid's host alive, and idle, in the same process).
        await using var ceiling = await MinimalEndpoint.StartAsync();
        var warm = scale.HeartbeatDuration / 5;
        await ceiling.WarmUpAsync(warm, scale.Concurrency);
        var alone = await AloneAsync("before the grid starts");
        var host = await BenchHost.StartAsync();
        try
        {
            var key = await host.CreateTwinAsync();
            var farm = await host.CreateFarmAsync(key);
            var nodes = new (long NodeId, string NodeKey)[scale.HeartbeatNodes];

            // Each node registers an Ed25519 public key, as an agent does; it may send its node key or sign (last case).
            var signing = Array.ConvertAll(nodes, _ => RequestSignature.NewKeyPair());
            var progress = new Progress($"heartbeat: {scale.HeartbeatNodes} nodes", scale.HeartbeatNodes);
            await Parallel.ForEachAsync(Enumerable.Range(0, nodes.Length), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
            {
                nodes[i] = await host.RegisterUpNodeAsync(key, farm, new Capacity(8, 8L << 30, 0, 0), signing[i].PublicKey);
                progress.Add();
            });
            progress.Done();

            var empty = Body(new HeartbeatRequest(100, []));
            var bodies = Enumerable.Repeat(empty, nodes.Length).ToArray();
            var emptyCase = $"{nodes.Length} nodes, {scale.Concurrency} clients";
            var outcomes = await BeatAsync(host, scale, Keyed(nodes, bodies, scale.Concurrency), "heartbeat", ceiling.PostAsync);
            MinimalEndpoint.Report("heartbeat", $"{MinimalEndpoint.Case}, {scale.Concurrency} clients", outcomes[1], rows);
            Report(rows, emptyCase, outcomes[0], baseline, outcomes[1], alone);
            var keyedRate = outcomes[0].PerSecond;

            // As many nodes as clients: each node's rate stays far below its own limit (1,000 requests/s).
            var busy = nodes[..Math.Min(nodes.Length, scale.Concurrency)];
            var requests = await DeployAsync(host, key, busy);
            var reports = Array.ConvertAll(requests, Body);

            // What HTTP alone costs for a request of that size: the minimal endpoint again, each request carrying the same
            // body (read to its end and nothing more). Informative; the goal stays the ratio to the plain minimal endpoint.
            await using var sameBody = await MinimalEndpoint.StartAsync(reports[0]);
            await sameBody.WarmUpAsync(warm, scale.Concurrency);
            var reportsCase = $"{busy.Length} nodes × {ReportsPerNode} workload reports, {scale.Concurrency} clients";
            var sized = $"{MinimalEndpoint.Case}, {reports[0].Length:N0}-byte body, {scale.Concurrency} clients";
            outcomes = await BeatAsync(host, scale, Keyed(busy, reports, scale.Concurrency), $"heartbeat: {ReportsPerNode} workload reports", ceiling.PostAsync, sameBody.PostAsync);
            MinimalEndpoint.Report("heartbeat", $"{MinimalEndpoint.Case}, {scale.Concurrency} clients, beside the workload reports", outcomes[1], rows);
            Report(rows, reportsCase, outcomes[0], baseline, outcomes[1], alone);
            MinimalEndpoint.Report("heartbeat", sized, outcomes[2], rows);
            rows.Add(new BenchRow("heartbeat", sized, "ratio to minimal endpoint", outcomes[2].PerSecond / outcomes[1].PerSecond, "×"));
            rows.Add(new BenchRow("heartbeat", reportsCase, "ratio to minimal endpoint with the same body", outcomes[0].PerSecond / outcomes[2].PerSecond, "×"));

            // The same nodes once the controller acknowledged a version of their reports: while their workloads run on,
            // a heartbeat says "as version v" and carries none.
            var acknowledged = await AcknowledgeAsync(host, busy, requests);
            var acknowledgedCase = $"{busy.Length} nodes × {ReportsPerNode} workloads, reports acknowledged (none changed), {scale.Concurrency} clients";
            outcomes = await BeatAsync(host, scale, Keyed(busy, acknowledged, scale.Concurrency), $"heartbeat: {ReportsPerNode} workloads, reports acknowledged", ceiling.PostAsync);
            MinimalEndpoint.Report("heartbeat", $"{MinimalEndpoint.Case}, {scale.Concurrency} clients, beside the acknowledged reports", outcomes[1], rows);
            Report(rows, acknowledgedCase, outcomes[0], baseline, outcomes[1], alone);

            // The first case's nodes and bodies, each heartbeat signed with its node's key (X-Grid-Signature) instead of
            // carrying the node key: what an agent sends. The controller checks the body's hash, the Ed25519 signature and
            // that the nonce is new (a grain call), per heartbeat. Signed before the case starts (the client's signing is
            // not the controller's cost), enough for the case at the first case's rate; signatures are good for a minute.
            using var signed = SignedBeats.Create(nodes, Array.ConvertAll(signing, k => k.PrivateKey), empty, (int)(keyedRate * scale.HeartbeatDuration.TotalSeconds * 1.2 * 1.25));
            var signedCase = $"{nodes.Length} nodes, signed (Ed25519), {scale.Concurrency} clients";
            outcomes = await BeatAsync(host, scale, signed.Next, "heartbeat: signed", ceiling.PostAsync);
            MinimalEndpoint.Report("heartbeat", $"{MinimalEndpoint.Case}, {scale.Concurrency} clients, beside the signed heartbeats", outcomes[1], rows);
            Report(rows, signedCase, outcomes[0], baseline, outcomes[1], alone);
            if (signed.SignedLate > 0)
            {
                rows.Add(new BenchRow("heartbeat", signedCase, "signed during the case (more than prepared)", signed.SignedLate, "requests"));
            }
        }
        finally
        {
            await host.DisposeAsync();
        }

        // And alone again once the grid has stopped: with the two alone figures, the interleaved ceilings show whether
        // the grid's idle host slowed the endpoint beside it or the machine's speed drifted.
        await AloneAsync("after the grid stopped");

        async Task<Measure.Outcome> AloneAsync(string when)
        {
            var outcome = await Measure.RunForAsync(scale.HeartbeatDuration / 2, scale.Concurrency, ceiling.PostAsync, new Progress($"{MinimalEndpoint.Case}: alone, {when}", 1));
            if (outcome.Failures > 0)
            {
                throw new BenchFailedException($"{outcome.Failures} requests to the minimal endpoint failed (alone, {when})");
            }

            MinimalEndpoint.Report("heartbeat", $"{MinimalEndpoint.Case}, {scale.Concurrency} clients, alone ({when})", outcome, rows);
            return outcome;
        }
    }

    private static void Report(List<BenchRow> rows, string scenario, Measure.Outcome outcome, double baseline, Measure.Outcome ceiling, Measure.Outcome alone)
    {
        rows.Add(new BenchRow("heartbeat", scenario, "heartbeats/s (HTTP)", outcome.PerSecond, "1/s"));
        MinimalEndpoint.ReportRatio("heartbeat", scenario, outcome, ceiling, rows);
        rows.Add(new BenchRow("heartbeat", scenario, "ratio to baseline", outcome.PerSecond / baseline, "×"));
        rows.Add(new BenchRow("heartbeat", scenario, "p99 latency", outcome.P99Ms, "ms", "< 10 ms", outcome.P99Ms < 10));
        rows.Add(new BenchRow("heartbeat", scenario, "CPU per heartbeat", outcome.CpuMicroseconds, "µs"));
        rows.Add(new BenchRow("heartbeat", scenario, "allocated per heartbeat", outcome.AllocatedBytes / 1024, "KiB"));
        rows.Add(new BenchRow("heartbeat", scenario, "ratio to minimal endpoint alone", outcome.PerSecond / alone.PerSecond, "×"));
    }

    /// <summary>
    /// Gives each node one reservation pinned to it with <see cref="ReportsPerNode"/> workloads, and answers each node's
    /// heartbeat body reporting them all running at the epoch its desired list holds. One heartbeat with those
    /// reports is sent first, so the measured ones are the steady state: the same reports again.
    /// </summary>
    private static async Task<HeartbeatRequest[]> DeployAsync(BenchHost host, string key, (long NodeId, string NodeKey)[] nodes)
    {
        var progress = new Progress($"heartbeat: {nodes.Length} nodes × {ReportsPerNode} workloads", nodes.Length);
        var requests = new HeartbeatRequest[nodes.Length];
        await Parallel.ForEachAsync(Enumerable.Range(0, nodes.Length), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            var (nodeId, nodeKey) = nodes[i];
            var reservation = (await host.SendAsync(HttpMethod.Post, "/api/v1/reservations", key,
                new { resources = new { cru = 1, mru = 1L << 30 }, constraints = new { nodeId } }))["reservationId"]!.GetValue<long>();
            for (var w = 0; w < ReportsPerNode; w++)
            {
                await host.SendAsync(HttpMethod.Post, $"/api/v1/reservations/{reservation}/workloads", key,
                    new { name = $"w{w}", type = "process", resources = new { mru = 8L << 20 }, process = new { command = "/bin/sleep", args = new[] { "600" } } });
            }

            var whole = await host.SendAsync(HttpMethod.Post, $"/api/v1/nodes/{nodeId}/heartbeat", nodeKey, new { uptime = 1 });
            var desired = whole["desired"]!.AsArray();
            if (desired.Count != ReportsPerNode)
            {
                throw new BenchFailedException($"node {nodeId} should run {ReportsPerNode} workloads; its heartbeat answered {desired.Count}");
            }

            var reports = desired.Select(d => new WorkloadReportRequest(
                d!["workloadId"]!.GetValue<long>(), d["epoch"]!.GetValue<long>(), WorkloadState.Running, 0, null)).ToImmutableArray();
            // As an agent does: it holds the list it was answered, and says which version that is.
            requests[i] = new HeartbeatRequest(100, reports, DesiredVersion: whole["desiredVersion"]!.GetValue<long>());
            using var first = Beat(nodeId, nodeKey, Body(requests[i]));
            using var answer = await host.Client.SendAsync(first);
            if (!answer.IsSuccessStatusCode)
            {
                throw new BenchFailedException($"node {nodeId}'s heartbeat with {ReportsPerNode} reports: {(int)answer.StatusCode}");
            }

            if (System.Text.Json.Nodes.JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["desiredUnchanged"]?.GetValue<bool>() != true)
            {
                throw new BenchFailedException($"node {nodeId}'s heartbeat holding its desired list was answered the whole list again");
            }

            progress.Add();
        });
        progress.Done();
        return requests;
    }

    /// <summary>
    /// Sends each node's reports once more with a version, as an agent does, and checks the controller acknowledged it;
    /// answers each node's heartbeat body from then on while nothing changes: that version, no report.
    /// </summary>
    private static async Task<byte[][]> AcknowledgeAsync(BenchHost host, (long NodeId, string NodeKey)[] nodes, HeartbeatRequest[] requests)
    {
        const long Version = 1;
        var bodies = new byte[nodes.Length][];
        await Parallel.ForEachAsync(Enumerable.Range(0, nodes.Length), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            using var request = Beat(nodes[i].NodeId, nodes[i].NodeKey, Body(requests[i] with { ReportsVersion = Version }));
            using var answer = await host.Client.SendAsync(request);
            var acknowledged = answer.IsSuccessStatusCode
                ? System.Text.Json.Nodes.JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["reportsAcknowledged"]?.GetValue<long>()
                : null;
            if (acknowledged != Version)
            {
                throw new BenchFailedException($"node {nodes[i].NodeId}'s {ReportsPerNode} reports at version {Version}: {(int)answer.StatusCode}, acknowledged {acknowledged?.ToString(CultureInfo.InvariantCulture) ?? "none"}");
            }

            bodies[i] = Body(requests[i] with { Workloads = [], ReportsVersion = Version, ReportsBase = Version });
        });
        return bodies;
    }

    /// <summary>
    /// Heartbeats made by <paramref name="beat"/> (from the worker and its count) for the scale's duration, after a
    /// warm-up, in windows interleaved with those of each of <paramref name="ceilings"/>: the heartbeats' outcome first,
    /// then each ceiling's.
    /// </summary>
    private static async Task<Measure.Outcome[]> BeatAsync(
        BenchHost host, BenchScale scale, Func<int, long, HttpRequestMessage> beat, string what, params Func<int, long, Task<bool>>[] ceilings)
    {
        var concurrency = scale.Concurrency;

        // A fifth of the run first, not counted: until the JIT has tiered up Kestrel's and HttpClient's paths, a
        // standalone run measured a third less than the same path warmed by the scenarios before it.
        await Measure.RunForAsync(scale.HeartbeatDuration / 5, concurrency, SendAsync, new Progress($"{what}: warm-up", 1));
        var outcomes = await Measure.InterleaveAsync(scale.HeartbeatDuration / Rounds, Rounds, concurrency, [SendAsync, .. ceilings],
            new Progress($"{what}: {scale.HeartbeatDuration.TotalSeconds:0} s of heartbeats, each ceiling as long, in {Rounds} turns", Rounds));
        return outcomes.FirstOrDefault(o => o.Failures > 0) is { } failed
            ? throw new BenchFailedException($"{failed.Failures} requests failed ({what})")
            : outcomes;

        async Task<bool> SendAsync(int worker, long n)
        {
            using var request = beat(worker, n);
            using var response = await host.Client.SendAsync(request);
            return response.IsSuccessStatusCode;
        }
    }

    /// <summary>Node i sends <paramref name="bodies"/>[i] with its node key; the workers take the nodes in turn.</summary>
    private static Func<int, long, HttpRequestMessage> Keyed((long NodeId, string NodeKey)[] nodes, byte[][] bodies, int concurrency) =>
        (worker, n) =>
        {
            var i = (int)((worker + (n * concurrency)) % nodes.Length);
            return Beat(nodes[i].NodeId, nodes[i].NodeKey, bodies[i]);
        };

    private static byte[] Body(HeartbeatRequest request) => JsonSerializer.SerializeToUtf8Bytes(request, GridJson.Options);

    private static HttpRequestMessage Beat(long nodeId, string nodeKey, byte[] body)
    {
        var request = Unsigned(nodeId, body);
        request.Headers.Authorization = new("Bearer", nodeKey);
        return request;
    }

    private static string PathOf(long nodeId) => $"/api/v1/nodes/{nodeId.ToString(CultureInfo.InvariantCulture)}/heartbeat";

    private static HttpRequestMessage Unsigned(long nodeId, byte[] body) => new(HttpMethod.Post, PathOf(nodeId))
    {
        Content = new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } },
    };

    /// <summary>
    /// Heartbeats signed ahead, the nodes in turn, each with a fresh nonce: <see cref="Next"/> hands out the next one,
    /// and signs one then (counted in <see cref="SignedLate"/>) only if all were taken.
    /// </summary>
    private sealed class SignedBeats : IDisposable
    {
        private readonly (long NodeId, string Signer)[] _nodes;
        private readonly NSec.Cryptography.Key[] _keys;
        private readonly byte[] _body;
        private readonly IReadOnlyList<KeyValuePair<string, string>>[] _headers;
        private long _next = -1;
        private long _late;

        private SignedBeats((long NodeId, string Signer)[] nodes, NSec.Cryptography.Key[] keys, byte[] body, int count)
        {
            (_nodes, _keys, _body) = (nodes, keys, body);
            _headers = new IReadOnlyList<KeyValuePair<string, string>>[count];
            // On threads of their own: signing on the thread pool's threads for seconds starved the silo beside it (its
            // health check reported the pool stalled).
            var progress = new Progress($"heartbeat: signing {count:N0} heartbeats", count);
            var signers = Enumerable.Range(0, Environment.ProcessorCount).Select(first => new Thread(() =>
            {
                for (var k = first; k < count; k += Environment.ProcessorCount)
                {
                    _headers[k] = Sign(k);
                }
            })).ToList();
            signers.ForEach(t => t.Start());
            signers.ForEach(t => t.Join());
            progress.Done();
        }

        public long SignedLate => Interlocked.Read(ref _late);

        public void Dispose()
        {
            foreach (var key in _keys)
            {
                key.Dispose();
            }
        }

        public static SignedBeats Create((long NodeId, string NodeKey)[] nodes, string[] keys, byte[] body, int count) =>
            new(Array.ConvertAll(nodes, n => (n.NodeId, $"node:{n.NodeId.ToString(CultureInfo.InvariantCulture)}")), Array.ConvertAll(keys, RequestSignature.ImportPrivateKey), body, count);

        public HttpRequestMessage Next(int worker, long n)
        {
            var k = Interlocked.Increment(ref _next);
            IReadOnlyList<KeyValuePair<string, string>> headers;
            if (k < _headers.Length)
            {
                headers = _headers[k];
            }
            else
            {
                Interlocked.Increment(ref _late);
                headers = Sign(k);
            }

            var request = Unsigned(_nodes[k % _nodes.Length].NodeId, _body);
            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            return request;
        }

        private IReadOnlyList<KeyValuePair<string, string>> Sign(long k)
        {
            var i = (int)(k % _nodes.Length);
            return RequestSignature.Sign(_keys[i], _nodes[i].Signer, "POST", PathOf(_nodes[i].NodeId), _body, DateTimeOffset.UtcNow);
        }
    }
}
