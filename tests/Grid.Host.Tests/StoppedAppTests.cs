using System.Runtime.CompilerServices;
using Grid.Testing;

namespace Grid.Host.Tests;

/// <summary>
/// A stopped grid host lets go of everything it held. ASP.NET Core's rate-limiting middleware kept a timer running
/// for every app that used it, and through it the app's whole service provider — its grid and every reservation it
/// had placed: a process hosting grids one after another (this suite, the bench) kept them all (2.5 GB at most for
/// this suite's run before, 0.8 GB after).
/// </summary>
public sealed class StoppedAppTests
{
    [Fact]
    public async Task AStoppedHostsServicesAreCollected()
    {
        var services = await ServeAndStopAsync();

        // Some of a stopped host's parts let go a moment later (connections closing): waited for, not assumed.
        await Poll.UntilAsync(() =>
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            return !services.IsAlive;
        }, TimeSpan.FromSeconds(60), "the stopped host's service provider to be collected");
    }

    /// <summary>A host that served requests through its rate limiter, stopped; only a weak reference to its services comes back.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<WeakReference> ServeAndStopAsync()
    {
        var app = await GridApp.StartAsync();
        var grid = new GridClient(app.Client);
        var (_, key) = await grid.CreateTwinAsync("stopped");
        await grid.CreateFarmAsync(key);
        var services = new WeakReference(app.Services);
        await app.DisposeAsync();
        return services;
    }
}
