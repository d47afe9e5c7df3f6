using Orleans.Storage;

namespace Grid.Grains.Tests;

/// <summary>Holds back (or fails) writes of one state name until released, counting the writes that wait.</summary>
public sealed class WriteStall
{
    private TaskCompletionSource? _gate;
    private string? _stateName;
    private string? _failing;
    private int _waiting;
    private int _failed;
    private bool _onlyNext;
    private (GrainId Grain, int Passes)? _failingGrain;

    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Writes refused by <see cref="Fail"/> so far.</summary>
    public int Failed => Volatile.Read(ref _failed);

    public void Hold(string stateName)
    {
        _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _stateName = stateName;
    }

    /// <summary>Holds only the next write of <paramref name="stateName"/>; the ones after it pass.</summary>
    public void HoldNext(string stateName)
    {
        _onlyNext = true;
        Hold(stateName);
    }

    public void Release()
    {
        _stateName = null;
        _onlyNext = false;
        _failing = null;
        _failingGrain = null;
        _gate?.TrySetResult();
    }

    /// <summary>Writes of <paramref name="stateName"/> fail, as when the database is unreachable, until released.</summary>
    public void Fail(string stateName) => _failing = stateName;

    /// <summary>Writes of one grain's state fail after its next <paramref name="passes"/> writes, until released.</summary>
    public void FailGrain(GrainId grain, int passes) => _failingGrain = (grain, passes);

    public async Task PassAsync(string stateName, GrainId grain)
    {
        if (_failingGrain is { } failing && failing.Grain == grain)
        {
            if (failing.Passes > 0)
            {
                _failingGrain = (grain, failing.Passes - 1);
            }
            else
            {
                Interlocked.Increment(ref _failed);
                throw new TimeoutException($"storage unreachable (test) while writing {grain}");
            }
        }

        if (stateName == _failing)
        {
            Interlocked.Increment(ref _failed);
            throw new TimeoutException($"storage unreachable (test) while writing {stateName}");
        }

        if (stateName != _stateName || _gate is not { } gate)
        {
            return;
        }

        if (_onlyNext && Interlocked.CompareExchange(ref _stateName, null, stateName) != stateName)
        {
            // Another write of the name got here first and is the one held.
            return;
        }

        Interlocked.Increment(ref _waiting);
        try
        {
            await gate.Task;
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }
}

/// <summary>Grain storage whose writes pass a <see cref="WriteStall"/> first.</summary>
public sealed class StallingStorage(IGrainStorage inner, WriteStall stall) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await stall.PassAsync(stateName, grainId);
        await inner.WriteStateAsync(stateName, grainId, grainState);
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ClearStateAsync(stateName, grainId, grainState);
}
