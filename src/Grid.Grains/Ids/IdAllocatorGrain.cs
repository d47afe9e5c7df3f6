using Grid.Grains;

namespace Grid.Ids;

[GenerateSerializer, SuppressReferenceTracking, Alias("grid.state.id-allocator")]
public sealed class IdAllocatorState
{
    /// <summary>The next id not yet handed out in any block.</summary>
    [Id(0)] public long Next { get; set; } = 1;
}

public sealed class IdAllocatorGrain(
    [PersistentState("ids", GridStorage.Name)] IPersistentState<IdAllocatorState> state) : Grain, IIdAllocatorGrain
{
    public async Task<long> AllocateBlockAsync(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var first = state.State.Next;
        state.State.Next = first + size;
        // The block is handed out only after the high-water mark is durable, so no id is ever issued twice.
        await state.WriteOrDeactivateAsync(this);
        return first;
    }
}
