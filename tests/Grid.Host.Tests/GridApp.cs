using Grid.Host.Hosting;
using Grid.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Grid.Host.Tests;

/// <summary>The real host (Kestrel + silo) started in this process on free loopback ports.</summary>
public sealed class GridApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GridApp(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
        // Redirects are answers to check, not to follow: following one drops the Authorization header.
        Client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<GridApp> StartAsync(params string[] settings)
    {
        string[] args =
        [
            "--urls", "http://127.0.0.1:0",
            $"--Grid:Cluster:SiloPort={FreePort.Get()}",
            $"--Grid:Cluster:GatewayPort={FreePort.Get()}",
            "--Grid:Demo:Nodes=0",
            "--Logging:LogLevel:Default=Warning",
            .. settings,
        ];
        var builder = WebApplication.CreateBuilder(args);
        builder.AddGridHost();
        var app = builder.Build();
        app.MapGridEndpoints();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new GridApp(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
