using System.Diagnostics;
using System.Runtime.InteropServices;
using Grid.Storage;
using Microsoft.Extensions.Options;

namespace Grid.Host.Hosting;

/// <summary>
/// Makes a silo that lost its database link leave the cluster, so the grains it hosts (which can neither read nor
/// write their state) are activated on silos that can. Every 100 ms it probes the database (grain-state reads and
/// writes feed the same <see cref="StorageHealth"/>); once every attempt has failed for
/// <see cref="GridClusterOptions.StorageLossTimeout"/>, it asks the other active silos, one at a time, to evict it
/// (<see cref="ISiloStorageGrain.EvictAsync"/>). The first one that reaches the database and saw no failure of its
/// own for as long says yes; this process then exits at once with <see cref="ExitCode"/> (a supervisor or
/// Kubernetes starts it again; it rejoins when its database answers), and that silo declares it dead, so the others
/// move its grains without waiting for missed probes. When the database itself is down every silo sees failures,
/// nobody says yes and every silo stays (not ready, then ready again when PostgreSQL returns).
/// </summary>
/// <remarks>
/// Membership, grain state and reminders share one connection string, so a cut link cuts them all: the silo cannot
/// mark itself as leaving, which is why a healthy silo writes the table for it. Nothing acknowledged is lost: a
/// write is acknowledged only after its commit, and the exiting silo's unwritten grain state was never acknowledged.
/// </remarks>
public sealed partial class StorageLossGuard(
    StorageHealth health,
    IClusterMembershipService membership,
    ILocalSiloDetails local,
    IGrainFactory grains,
    IOptions<GridHostOptions> options,
    ILogger<StorageLossGuard> logger) : BackgroundService
{
    /// <summary>Process exit code of a silo that left because of its database link (EX_TEMPFAIL: try again later).</summary>
    public const int ExitCode = 75;

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Probe = TimeSpan.FromMilliseconds(100);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var limit = options.Value.Cluster.StorageLossTimeout;
        if (limit <= TimeSpan.Zero)
        {
            return;
        }

        // A tenth of the limit, at most 100 ms (one SELECT 1 each): an idle silo notices a cut about as soon as a busy
        // one, and the streak is acted on soon after it reaches the limit (each 100 ms of delay is ≈ 0.2 % of the
        // requests of a 20 s cut failing).
        using var timer = new PeriodicTimer(TimeSpan.FromTicks(Math.Min(limit.Ticks / 10, Probe.Ticks)));
        var nextAsk = 0L;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await health.ProbeAsync(stoppingToken);
            if (health.FailingFor < limit || Stopwatch.GetTimestamp() < nextAsk)
            {
                continue;
            }

            // Refused (the database itself is down, say): ask again only after another limit's worth of failures.
            nextAsk = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
            if (await AnotherSiloEvictsUsAsync(limit))
            {
                LogLeaving(logger, limit, ExitCode);
                // Let the log line out, then exit without the graceful stop: it would wait on the database it lost.
                await Task.Delay(TimeSpan.FromMilliseconds(100), CancellationToken.None);
                ExitNow(ExitCode);
            }
        }
    }

    private async Task<bool> AnotherSiloEvictsUsAsync(TimeSpan limit)
    {
        var self = local.SiloAddress;
        var peers = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(self))
            .Select(m => m.SiloAddress)
            .OrderBy(_ => Random.Shared.Next())
            .ToList();
        LogAsking(logger, health.FailingFor, peers.Count);
        foreach (var peer in peers)
        {
            try
            {
                if (await grains.GetGrain<ISiloStorageGrain>(peer.ToParsableString()).EvictAsync(self).WaitAsync(AskTimeout))
                {
                    return true;
                }
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                LogAskFailed(logger, peer, exception.GetType().Name);
            }

            if (health.FailingFor < limit)
            {
                return false;
            }
        }

        return false;
    }

    private static void ExitNow(int code)
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            NativeExit(code);
        }

        Environment.Exit(code);
    }

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void NativeExit(int code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database link failing for {FailingFor}; asking {Peers} other active silos to evict this one")]
    private static partial void LogAsking(ILogger logger, TimeSpan failingFor, int peers);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {Peer} did not answer the eviction request: {Error}")]
    private static partial void LogAskFailed(ILogger logger, SiloAddress peer, string error);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Database link lost for over {Limit} while other silos reach it: this silo leaves the cluster (exit code {Code}) so its grains move to them")]
    private static partial void LogLeaving(ILogger logger, TimeSpan limit, int code);
}
