using Grid.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace Grid.Storage.Tests;

public sealed class LocalMemoryStorageTests
{
    private static readonly GrainId Grain = GrainId.Create("probe", "1");
    private readonly LocalMemoryGrainStorage _storage =
        new(new ServiceCollection().AddSerializer(s => s.AddAssembly(typeof(LocalMemoryStorageTests).Assembly)).BuildServiceProvider().GetRequiredService<Serializer>());

    [Fact]
    public async Task StoredStateIsACopyThatReadsBack()
    {
        var written = new GrainState<CounterState> { State = new CounterState { Values = [1, 2] } };
        await _storage.WriteStateAsync("counter", Grain, written);
        written.State.Values.Add(3);

        var read = new GrainState<CounterState> { State = new CounterState() };
        await _storage.ReadStateAsync("counter", Grain, read);

        Assert.True(read.RecordExists);
        Assert.Equal([1, 2], read.State.Values);
        Assert.Equal(written.ETag, read.ETag);
    }

    [Theory]
    [InlineData(1_000)] // a few KB: one array
    [InlineData(100_000)] // several hundred KB: after the first write, kept in pieces
    public async Task LargeStatesReadBackWhole(int count)
    {
        var written = new GrainState<CounterState> { State = new CounterState { Values = [.. Enumerable.Range(0, count)] } };
        await _storage.WriteStateAsync("counter", Grain, written);
        written.State.Values = [.. Enumerable.Range(0, count).Select(i => (i * 7919) - 500_000)];
        await _storage.WriteStateAsync("counter", Grain, written);
        // Another state written after it must not reuse the first one's bytes.
        await _storage.WriteStateAsync("counter", GrainId.Create("probe", "small"), new GrainState<CounterState> { State = new CounterState { Values = [5] } });

        var read = new GrainState<CounterState> { State = new CounterState() };
        await _storage.ReadStateAsync("counter", Grain, read);

        Assert.Equal(written.State.Values, read.State.Values);
        Assert.Equal(written.ETag, read.ETag);
    }

    [Fact]
    public async Task AStaleETagIsRefusedLikeADatabaseWould()
    {
        var first = new GrainState<CounterState> { State = new CounterState { Values = [1] } };
        await _storage.WriteStateAsync("counter", Grain, first);
        var stale = new GrainState<CounterState> { State = new CounterState { Values = [9] }, ETag = first.ETag };
        await _storage.WriteStateAsync("counter", Grain, first);

        await Assert.ThrowsAsync<InconsistentStateException>(() => _storage.WriteStateAsync("counter", Grain, stale));
        await _storage.ClearStateAsync("counter", Grain, first);
        var read = new GrainState<CounterState> { State = new CounterState() };
        await _storage.ReadStateAsync("counter", Grain, read);
        Assert.False(read.RecordExists);
    }
}

[GenerateSerializer, Alias("grid.tests.counter-state")]
public sealed class CounterState
{
    [Id(0)] public List<int> Values { get; set; } = [];
}
