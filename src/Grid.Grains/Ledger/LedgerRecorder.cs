using Grid.Grains;
using Microsoft.Extensions.Logging;

namespace Grid.Ledger;

/// <summary>
/// Records non-money events for grains whose own write is the fact (a twin, farm or node exists; a node changed
/// status). A failed append is logged, not thrown: the grain's state is already durable and the caller must not
/// see an error for something that happened. Money never goes through here.
/// </summary>
public sealed partial class LedgerRecorder(LedgerAppender appender, ILogger<LedgerRecorder> logger)
{
    /// <summary>Appends and waits until the entry is durable (or the append failed and was logged).</summary>
    public async Task RecordAsync(LedgerAppend append)
    {
        try
        {
            await appender.AppendAsync(append);
        }
        catch (Exception e)
        {
            LogFailed(logger, e, append.EventId, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger event {EventId} not recorded: {Reason}")]
    private static partial void LogFailed(ILogger logger, Exception exception, string eventId, string reason);
}
