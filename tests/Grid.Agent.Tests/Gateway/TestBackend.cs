using System.Net;
using Grid.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Grid.Agent.Tests.Gateway;

/// <summary>
/// A real HTTP server on 127.0.0.1 standing for a name's backend: <c>/health</c> passes only while
/// <see cref="Ready"/>; <c>/</c> answers its name; <c>/echo</c> answers as many bytes as were posted;
/// <c>/stream</c> sends a first chunk, then the rest once <see cref="ReleaseStream"/> was called. It counts the
/// requests other than health checks. It can be stopped (killed) and started again on the same port.
/// </summary>
internal sealed class TestBackend : IAsyncDisposable
{
    private readonly TaskCompletionSource _streamRelease = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _app;
    private int _requests;

    private TestBackend(string name, int port)
    {
        Name = name;
        Port = port;
    }

    /// <summary>What <c>/</c> answers.</summary>
    public string Name { get; }

    public int Port { get; }

    /// <summary>The destination address gateways receive.</summary>
    public string Address => $"http://127.0.0.1:{Port}";

    /// <summary>Whether <c>/health</c> answers 200 (else 503).</summary>
    public bool Ready { get; set; } = true;

    /// <summary>Requests served other than health checks.</summary>
    public int Requests => Volatile.Read(ref _requests);

    public static async Task<TestBackend> StartAsync(string name, bool ready = true)
    {
        var backend = new TestBackend(name, FreePort.Get()) { Ready = ready };
        await backend.StartAsync();
        return backend;
    }

    /// <summary>Starts serving (again) on the same port.</summary>
    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, Port));
        var app = builder.Build();
        app.UseWebSockets();
        app.Map("/ws", async (HttpContext c) =>
        {
            // Echoes each message back.
            using var socket = await c.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[4096];
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, c.RequestAborted);
                if (received.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, c.RequestAborted);
                    return;
                }

                await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, c.RequestAborted);
            }
        });
        app.MapGet("/health", (HttpContext c) => c.Response.StatusCode = Ready ? 200 : 503);
        app.MapGet("/", () => Counted(Name));
        app.MapPost("/echo", async (HttpContext c) =>
        {
            Interlocked.Increment(ref _requests);
            var length = 0L;
            var buffer = new byte[16384];
            int read;
            while ((read = await c.Request.Body.ReadAsync(buffer)) > 0)
            {
                length += read;
            }

            c.Response.ContentLength = length;
            var body = new byte[length];
            await c.Response.Body.WriteAsync(body);
        });
        app.MapGet("/stream", async (HttpContext c) =>
        {
            Interlocked.Increment(ref _requests);
            await c.Response.WriteAsync("first;");
            await c.Response.Body.FlushAsync();
            await _streamRelease.Task.WaitAsync(c.RequestAborted);
            await c.Response.WriteAsync("second");
        });
        await app.StartAsync();
        _app = app;
    }

    /// <summary>Lets <c>/stream</c> answers finish.</summary>
    public void ReleaseStream() => _streamRelease.TrySetResult();

    /// <summary>Stops serving: connections are refused from then on.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _app, null) is { } app)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        ReleaseStream();
        await StopAsync();
    }

    private string Counted(string answer)
    {
        Interlocked.Increment(ref _requests);
        return answer;
    }
}
