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
