using System.Collections.Concurrent;
using System.Net;

namespace Grid.EndToEnd.Tests;

/// <summary>
/// A client of one gateway node: GETs sent to its address with a name's <c>Host</c>, as a browser resolving
/// <c>*.&lt;domain&gt;</c> to that node would. It tallies what it sent and received, so a test can compare with the
/// traffic the grid counted, and can run a steady background load.
/// </summary>
public sealed class GatewayClient : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false })
    {
        Timeout = TimeSpan.FromSeconds(5),
    };

    private long _requests;
    private long _bodyBytes;
    private long _notFound;
    private long _notFoundBodyBytes;

    /// <summary>A client of the gateway listening on 127.0.0.1:<paramref name="port"/>.</summary>
    public GatewayClient(int port) => Port = port;

    /// <summary>The gateway's port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Requests that got an answer.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Bytes of the answers' bodies.</summary>
    public long BodyBytes => Interlocked.Read(ref _bodyBytes);

    /// <summary>Requests answered 404 (by a gateway: a name it does not serve, whose traffic no name is charged).</summary>
    public long NotFound => Interlocked.Read(ref _notFound);

    /// <summary>Bytes of the 404 answers' bodies.</summary>
    public long NotFoundBodyBytes => Interlocked.Read(ref _notFoundBodyBytes);

    /// <summary>One GET of <c>/</c> with <c>Host: <paramref name="host"/></c>: the status (0 when no answer came) and the body.</summary>
    public async Task<(int Status, string Body)> GetAsync(string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{Port}/");
        request.Headers.Host = host;
        try
        {
            using var response = await _http.SendAsync(request);
            var body = await response.Content.ReadAsByteArrayAsync();
            Interlocked.Increment(ref _requests);
            Interlocked.Add(ref _bodyBytes, body.Length);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                Interlocked.Increment(ref _notFound);
                Interlocked.Add(ref _notFoundBodyBytes, body.Length);
            }
            return ((int)response.StatusCode, System.Text.Encoding.UTF8.GetString(body).Trim());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return (0, e.Message);
        }
    }

    /// <summary>True when the gateway answers 200 for <paramref name="host"/>.</summary>
    public async Task<bool> ServesAsync(string host) => (await GetAsync(host)).Status == (int)HttpStatusCode.OK;

    /// <summary>Starts GETs one after another (with <paramref name="pause"/> between) until the returned load is stopped.</summary>
    public GatewayLoad StartLoad(string host, TimeSpan pause) => new(this, host, pause);

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();
}

/// <summary>A steady stream of GETs through a gateway: how many were sent, how many answered 200, and each body seen.</summary>
public sealed class GatewayLoad : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _sent;
    private long _succeeded;

    internal GatewayLoad(GatewayClient client, string host, TimeSpan pause) => _loop = Task.Run(async () =>
    {
        while (!_stop.IsCancellationRequested)
        {
            var (status, body) = await client.GetAsync(host);
            Interlocked.Increment(ref _sent);
            if (status == (int)HttpStatusCode.OK)
            {
                Interlocked.Increment(ref _succeeded);
                Bodies[body] = Bodies.GetValueOrDefault(body) + 1;
            }
            else
            {
                Failures.Enqueue($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {status} {body}");
            }

            try
            {
                await Task.Delay(pause, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    });

    /// <summary>Requests sent.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Requests answered 200.</summary>
    public long Succeeded => Interlocked.Read(ref _succeeded);

    /// <summary>The bodies of the 200 answers, with how often each came.</summary>
    public ConcurrentDictionary<string, int> Bodies { get; } = new(StringComparer.Ordinal);

    /// <summary>What each failed request got (time, status, body or error).</summary>
    public ConcurrentQueue<string> Failures { get; } = new();

    /// <summary>Stops the loop after its current request.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
