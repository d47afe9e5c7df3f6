namespace Grid.Bench;

/// <summary>A grain that does nothing: the baseline every other throughput is compared with.</summary>
[Alias("grid.bench.IPingGrain")]
public interface IPingGrain : IGrainWithIntegerKey
{
    [Alias("Ping")]
    ValueTask PingAsync();
}

public sealed class PingGrain : Grain, IPingGrain
{
    public ValueTask PingAsync() => ValueTask.CompletedTask;
}

/// <summary>A grain with state in the grid's storage and nothing else: what activating a reservation grain costs at least.</summary>
[Alias("grid.bench.IStatefulPingGrain")]
public interface IStatefulPingGrain : IGrainWithIntegerKey
{
    [Alias("Ping")]
    ValueTask PingAsync();
}

public sealed class StatefulPingGrain([PersistentState("ping", GridStorage.Name)] IPersistentState<StatefulPingGrain.Nothing> state)
    : Grain, IStatefulPingGrain
{
    // Reads the state so the activation cannot skip loading it.
    public ValueTask PingAsync() => state.RecordExists ? throw new InvalidOperationException("never written") : ValueTask.CompletedTask;

    [GenerateSerializer, Alias("grid.bench.nothing")]
    public sealed class Nothing;
}
