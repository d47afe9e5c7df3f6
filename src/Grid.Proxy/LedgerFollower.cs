using Grid.Hosting;
using Microsoft.Extensions.Options;

namespace Grid.Proxy;

/// <summary>
/// Keeps the <see cref="ProxyReadModel"/> at the ledger's head: reads this silo's ledger store (no grain call) from
/// the model's head on, in batches, and polls every <see cref="ProxyOptions.LedgerPollInterval"/> once caught up,
/// so an answer reflects a ledger entry well within a second.
/// </summary>
public sealed partial class LedgerFollower(
    ILedgerReader ledger,
    ProxyReadModel readModel,
    IOptions<ProxyOptions> options,
    TimeProvider time,
    ILogger<LedgerFollower> logger) : PeriodicService(time)
{
    public const int BatchSize = 2000;

    /// <summary>Applies everything the ledger holds beyond the model's head; answers how many entries it applied.</summary>
    public async Task<int> CatchUpAsync(CancellationToken cancellationToken)
    {
        var applied = 0;
        while (true)
        {
            var entries = await ledger.ReadAsync(readModel.Head + 1, BatchSize, cancellationToken);
            readModel.Apply(entries);
            applied += entries.Count;
            if (entries.Count < BatchSize)
            {
                return applied;
            }
        }
    }

    protected override TimeSpan Interval => options.Value.LedgerPollInterval;

    protected override bool StepsAtStart => true;

    protected override Task StepAsync(CancellationToken cancellationToken) => CatchUpAsync(cancellationToken);

    protected override void StepFailed(Exception exception) => LogFollowFailed(logger, exception, readModel.Head);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grid-proxy read model could not read the ledger after seq {Head}; retrying")]
    private static partial void LogFollowFailed(ILogger logger, Exception exception, long head);
}
