using System.Collections.Concurrent;
using Grid.Grains;
using Grid.Hosting;
using Microsoft.Extensions.Logging;

namespace Grid.Telemetry;

/// <summary>
/// This silo's not-yet-published grid events. Recording is a lock-free enqueue next to the metric it goes with;
/// a background loop hands them to the <see cref="IGridEventsGrain"/> in one batch every half second, so the
/// placement path never waits for the feed. Bounded: under a storm the oldest unpublished events are dropped.
/// </summary>
public sealed partial class GridEventFeed(IGrainFactory grains, GridClock clock, TimeProvider time, ILogger<GridEventFeed> logger)
    : PeriodicService(time)
{
    public const int MaxPending = 1_000;
    public static readonly TimeSpan PublishInterval = TimeSpan.FromMilliseconds(500);

    private readonly ConcurrentQueue<Pending> _pending = new();
    private int _publishing;

    public void Record(string kind, long? nodeId, long? fromNodeId, string message) =>
        Enqueue(new Pending(clock.UtcNow, kind, nodeId, fromNodeId, message, null));

    /// <summary>
    /// An event whose message is written only if it is published: a placement records one each, thousands per
    /// second under load, of which the feed keeps the newest <see cref="MaxPending"/> per half second.
    /// </summary>
    public void Record(string kind, long? nodeId, long? fromNodeId, Func<long?, long?, string> message) =>
        Enqueue(new Pending(clock.UtcNow, kind, nodeId, fromNodeId, null, message));

    private void Enqueue(Pending pending)
    {
        _pending.Enqueue(pending);
        while (_pending.Count > MaxPending && _pending.TryDequeue(out _))
        {
        }
    }

    protected override TimeSpan Interval => PublishInterval;

    protected override async Task StepAsync(CancellationToken cancellationToken)
    {
        if (_pending.IsEmpty)
        {
            return;
        }

        var batch = new List<GridEvent>();
        while (batch.Count < MaxPending && _pending.TryDequeue(out var next))
        {
            batch.Add(new GridEvent(0, next.At, next.Kind, next.NodeId, next.FromNodeId,
                next.Message ?? next.Format!(next.NodeId, next.FromNodeId)));
        }

        // A soft feed: during a failover a batch may be lost (reported by StepFailed) rather than block or pile up.
        _publishing = batch.Count;
        await grains.GetGrain<IGridEventsGrain>(0).AddAsync([.. batch]);
    }

    protected override void StepFailed(Exception exception) => LogPublishFailed(logger, exception, _publishing);

    private sealed record Pending(DateTimeOffset At, string Kind, long? NodeId, long? FromNodeId, string? Message, Func<long?, long?, string>? Format);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Dropped {Count} grid events")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, int count);
}
