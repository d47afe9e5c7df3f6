using System.Collections.Immutable;
using Grid.Grains;

namespace Grid.Telemetry;

/// <summary>The grid-wide window of recent events (see <see cref="IGridEventsGrain"/>).</summary>
public sealed class GridEventsGrain : Grain, IGridEventsGrain
{
    public const int Window = 200;

    private readonly Queue<GridEvent> _events = new();
    private long _seq;

    public Task AddAsync(ImmutableArray<GridEvent> events)
    {
        foreach (var e in events.OrderBy(e => e.At))
        {
            _events.Enqueue(e with { Seq = ++_seq });
            if (_events.Count > Window)
            {
                _events.Dequeue();
            }
        }

        return Task.CompletedTask;
    }

    public Task<GridEventPage> GetAsync(long after, int limit) =>
        Task.FromResult(new GridEventPage([.. _events.Where(e => e.Seq > after).TakeLast(Math.Clamp(limit, 1, Window))], _seq));
}
