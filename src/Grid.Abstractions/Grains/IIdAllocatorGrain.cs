using Orleans.CodeGeneration;
namespace Grid.Grains;

/// <summary>Hands out blocks of ids for one kind (twin, farm, node, reservation, workload). Key: the kind.</summary>
[Alias("grid.IIdAllocatorGrain")]
[Version(1)]
public interface IIdAllocatorGrain : IGrainWithStringKey
{
    /// <summary>Reserves <paramref name="size"/> ids durably and returns the first.</summary>
    [Alias("AllocateBlock")]
    Task<long> AllocateBlockAsync(int size);
}
