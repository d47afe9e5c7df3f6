using System.Net;
using System.Net.Sockets;
using Grid.Agent.Gateway;
using Microsoft.Extensions.Logging;

namespace Grid.Agent.Tests.Gateway;

/// <summary>
/// A real <see cref="GatewayServer"/> on a free port of 127.0.0.1 in a throwaway work directory, and a client whose
/// connections all go to it whatever the URL's host, so requests carry a name's <c>Host</c> (and TLS server name).
/// </summary>
internal sealed class TestGateway : IAsyncDisposable
{
    /// <summary>The domain of the test's names.</summary>
    public const string Domain = "grid.test";

    /// <summary>The health check the tests' routes use: frequent, so health changes show within a test's patience.</summary>
    public static readonly NameHealthCheck Check = new("/health", TimeSpan.FromMilliseconds(100));

    private readonly ILogger _logger;
    private readonly TestWorkDir? _ownedDir;
    private readonly string? _tlsCertificate;
    private readonly string? _tlsKey;

    private TestGateway(ILogger logger, TestWorkDir? ownedDir, string workDir, string? tlsCertificate, string? tlsKey)
    {
        _logger = logger;
        _ownedDir = ownedDir;
        WorkDir = workDir;
        _tlsCertificate = tlsCertificate;
        _tlsKey = tlsKey;
    }

    public string WorkDir { get; }

    public GatewayServer Server { get; private set; } = null!;

    /// <summary>Plain HTTP to the gateway.</summary>
    public HttpClient Http { get; private set; } = null!;

    /// <summary>HTTPS to the gateway (when started with a certificate), trusting only the test's certificate.</summary>
    public HttpClient? Https { get; private set; }

    /// <summary>Starts a gateway; in <paramref name="workDir"/> when given (a restart), else in a new one it deletes at the end.</summary>
    public static async Task<TestGateway> StartAsync(ILogger logger, string? workDir = null, string? tlsCertificate = null, string? tlsKey = null, string? trustedThumbprint = null)
    {
        var owned = workDir is null ? new TestWorkDir() : null;
        var gateway = new TestGateway(logger, owned, workDir ?? owned!.Path, tlsCertificate, tlsKey);
        await gateway.StartServerAsync(trustedThumbprint);
        return gateway;
    }

    /// <summary>A route for <paramref name="name"/> at <c>name.grid.test</c> to <paramref name="backends"/>.</summary>
    public static GatewayRoute Route(string name, params TestBackend[] backends) =>
        new(name, $"{name}.{Domain}", [.. backends.Select(b => new GatewayDestination($"d-{b.Name}", b.Address))], Check);

    /// <summary>The URL of <paramref name="path"/> under <paramref name="name"/>, with the gateway's port.</summary>
    public Uri Url(string name, string path = "/", bool tls = false) =>
        new($"{(tls ? "https" : "http")}://{name}.{Domain}:{(tls ? Server.HttpsEndpoint! : Server.HttpEndpoint!).Port}{path}");

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Https?.Dispose();
        await Server.DisposeAsync();
        _ownedDir?.Dispose();
    }

    private static HttpClient Client(IPEndPoint endpoint, Func<SocketsHttpHandler, SocketsHttpHandler>? configure = null)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(endpoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(configure?.Invoke(handler) ?? handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    private async Task StartServerAsync(string? trustedThumbprint)
    {
        var options = new AgentOptions
        {
            ApiUrl = new Uri("http://127.0.0.1:1"),
            NodeId = 1,
            NodeKey = "test",
            WorkDir = WorkDir,
            GatewayListen = "127.0.0.1:0",
            GatewayListenTls = _tlsCertificate is null ? null : "127.0.0.1:0",
            GatewayCertificate = _tlsCertificate,
            GatewayKey = _tlsKey,
        };
        options.Validate();
        Server = new GatewayServer(options, "127.0.0.1", _logger, TimeProvider.System);
        await Server.StartAsync(CancellationToken.None);
        Http = Client(Server.HttpEndpoint!);
        if (Server.HttpsEndpoint is { } https)
        {
            Https = Client(https, handler =>
            {
                handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && certificate.GetCertHashString() == trustedThumbprint;
                return handler;
            });
        }
    }
}
