using Grid.Grains;

namespace Grid.Ids;

/// <summary>Kinds of things that get ids.</summary>
public static class IdKind
{
    public const string Twin = "twin";
    public const string Farm = "farm";
    public const string Node = "node";
    public const string Reservation = "reservation";
    public const string Workload = "workload";
}

/// <summary>
/// Silo-local id source: takes blocks from <see cref="IIdAllocatorGrain"/> so that creating a thing costs
/// one durable write per block, not per id. Ids are unique and increasing per silo; gaps are allowed.
/// </summary>
public sealed class IdGenerator(IGrainFactory grains)
{
    private const int BlockSize = 256;
    private readonly Dictionary<string, Block> _blocks = [];
    private readonly SemaphoreSlim _lock = new(1, 1);

    public async ValueTask<long> NextAsync(string kind)
    {
        await _lock.WaitAsync();
        try
        {
            if (!_blocks.TryGetValue(kind, out var block) || block.Next >= block.End)
            {
                var first = await grains.GetGrain<IIdAllocatorGrain>(kind).AllocateBlockAsync(BlockSize);
                block = new Block { Next = first, End = first + BlockSize };
                _blocks[kind] = block;
            }

            return block.Next++;
        }
        finally
        {
            _lock.Release();
        }
    }

    private sealed class Block
    {
        public long Next { get; set; }
        public long End { get; set; }
    }
}
