using Grid.Storage;
using Microsoft.Extensions.Options;
using Orleans.CodeGeneration;

namespace Grid.Host.Hosting;

/// <summary>One per silo (keyed by its address, placed on it): what that silo says about its database link.</summary>
[Alias("grid.silo-storage")]
[Version(1)]
public interface ISiloStorageGrain : IGrainWithStringKey
{
    /// <summary>
    /// Asked by <paramref name="sick"/>, a silo whose database link has been failing for
    /// <see cref="GridClusterOptions.StorageLossTimeout"/>. When this silo reaches the database now and saw no
    /// failure of its own for that long, it answers true and declares <paramref name="sick"/> dead in the
    /// membership table (right after answering: a reply to a silo already declared dead would be dropped).
    /// False when this silo is unsure of its own link: then the database itself is in trouble, every silo stays.
    /// </summary>
    [Alias("evict")]
    Task<bool> EvictAsync(SiloAddress sick);
}

/// <inheritdoc cref="ISiloStorageGrain"/>
[SiloPinnedPlacement]
public sealed partial class SiloStorageGrain(
    ILocalSiloDetails local,
    StorageHealth health,
    IClusterMembershipService membership,
    IOptions<GridHostOptions> options,
    ILogger<SiloStorageGrain> logger) : Grain, ISiloStorageGrain
{
    // Long enough for the reply to reach the asker before its entry turns dead, short next to probe-based detection.
    private static readonly TimeSpan ReplyHeadStart = TimeSpan.FromMilliseconds(100);

    public async Task<bool> EvictAsync(SiloAddress sick)
    {
        var limit = options.Value.Cluster.StorageLossTimeout;
        if (this.GetPrimaryKeyString() != local.SiloAddress.ToParsableString()
            || health.SinceLastFailure is { } since && since < limit
            || !await health.ProbeAsync())
        {
            LogRefused(logger, sick);
            return false;
        }

        LogEvicting(logger, sick, limit);
        _ = Task.Run(async () =>
        {
            await Task.Delay(ReplyHeadStart);
            try
            {
                await membership.TryKill(sick);
            }
            catch (Exception exception)
            {
                // The asker leaves anyway; probes then declare it dead, only later.
                LogKillFailed(logger, sick, exception);
            }
        });
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not declare silo {Sick} dead; membership probes will")]
    private static partial void LogKillFailed(ILogger logger, SiloAddress sick, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {Sick} lost its database link for {Limit}; this silo reaches the database and declares it dead")]
    private static partial void LogEvicting(ILogger logger, SiloAddress sick, TimeSpan limit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {Sick} lost its database link, but so did this silo recently: nobody leaves")]
    private static partial void LogRefused(ILogger logger, SiloAddress sick);
}
