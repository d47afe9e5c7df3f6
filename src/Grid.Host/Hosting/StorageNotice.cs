using Microsoft.Extensions.Options;

namespace Grid.Host.Hosting;

/// <summary>Says loudly at start when nothing the grid acknowledges will survive a restart.</summary>
public sealed partial class StorageNotice(IOptions<GridHostOptions> options, StorageNotice.DemoOperatorKey demoKey, ILogger<StorageNotice> logger) : IHostedService
{
    /// <summary>The operator key generated for an in-memory run without one (null when configured).</summary>
    public sealed record DemoOperatorKey(string? Key);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Storage == GridStorageKind.Memory)
        {
            LogNotDurable(logger);
            if (demoKey.Key is { } key)
            {
                LogDemoOperatorKey(logger, key);
            }
        }
        else
        {
            LogDurable(logger, options.Value.Cluster.ClusterId);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grid:Storage=memory: single silo, in-memory state. NOTHING IS DURABLE — every twin, farm, node and reservation is lost when this process stops. Set Grid:Storage=postgres and ConnectionStrings:Grid for a durable grid.")]
    private static partial void LogNotDurable(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grid:Billing:OperatorKey is not set: generated one for this in-memory run: {Key}. Orleans dashboard at /dashboard (any user name, this key as password).")]
    private static partial void LogDemoOperatorKey(ILogger logger, string key);

    [LoggerMessage(Level = LogLevel.Information, Message = "Grid:Storage=postgres: membership, grain state and reminders in PostgreSQL (cluster {ClusterId}).")]
    private static partial void LogDurable(ILogger logger, string clusterId);
}
