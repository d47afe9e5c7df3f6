using System.Threading.Channels;

namespace Grid;

/// <summary>
/// Collects operations from many callers and hands them to <c>run</c> in groups: a few loops each take whatever
/// is waiting (up to <c>maxGroup</c>) as soon as they are free, so a group is one item when the load is light and
/// grows with the load — no timer, no added latency. <c>run</c> completes every item of its group. Used for grain
/// state (a group is one transaction), for placements (a group is one placement batch) and for releases off a lost node
/// (a group is one node call).
/// </summary>
public sealed class GroupCommitQueue<T> : IAsyncDisposable
    where T : IGroupItem
{
    private readonly Channel<T> _channel = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Func<List<T>, Task> _run;
    private readonly int _maxGroup;
    private readonly Task[] _loops;

    public GroupCommitQueue(int loops, int maxGroup, Func<List<T>, Task> run)
    {
        _run = run;
        _maxGroup = maxGroup;
        _loops = Enumerable.Range(0, loops).Select(_ => Task.Run(LoopAsync)).ToArray();
    }

    /// <summary>Queues <paramref name="item"/>; it fails at once when the queue has stopped.</summary>
    public void Add(T item)
    {
        if (!_channel.Writer.TryWrite(item))
        {
            item.Fail(new ObjectDisposedException(nameof(GroupCommitQueue<T>), "The queue has stopped (its silo is shutting down)."));
        }
    }

    private async Task LoopAsync()
    {
        var group = new List<T>(_maxGroup);
        while (await _channel.Reader.WaitToReadAsync())
        {
            while (group.Count < _maxGroup && _channel.Reader.TryRead(out var item))
            {
                group.Add(item);
            }

            if (group.Count == 0)
            {
                continue;
            }

            try
            {
                await _run(group);
            }
            catch (Exception ex)
            {
                // run completes its items itself; this only catches what it did not expect.
                foreach (var item in group)
                {
                    item.Fail(ex);
                }
            }

            group.Clear();
        }
    }

    /// <summary>Lets the queued items finish, then stops the loops.</summary>
    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await Task.WhenAll(_loops);
    }
}

/// <summary>An operation in a <see cref="GroupCommitQueue{T}"/>.</summary>
public interface IGroupItem
{
    /// <summary>Fails the operation (no-op when already completed).</summary>
    void Fail(Exception exception);
}
